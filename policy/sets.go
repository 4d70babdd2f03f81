package policy

import (
	"context"
	"slices"

	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// campaign, dialer and seller hold when the call's campaign, dialer or seller
// is in the set, or with not_in when it is not:
//
//	match:
//	  campaign: [spring-sale, fall-sale]
//	  seller: {not_in: [acme]}
//
// An empty campaign or seller (the call did not say) is in no set.
// The trace value is the call's own campaign, dialer or seller.
type memberOf struct {
	names []string
	notIn bool
	of    func(*Call) string
}

func init() {
	registerCondition("campaign", setParser("campaign", func(c *Call) string { return c.Campaign }))
	registerCondition("dialer", setParser("dialer", func(c *Call) string { return c.Dialer }))
	registerCondition("seller", setParser("seller", func(c *Call) string { return c.Seller }))
}

func setParser(kind string, of func(*Call) string) conditionParser {
	return func(_ *parser, value ast.Node) (condition, error) {
		m := &memberOf{of: of}
		list := value
		if mapping, ok := value.(ast.MapNode); ok {
			it := mapping.MapRange()
			it.Next()
			if key := it.Key().GetToken().Value; key != "not_in" || it.Next() {
				return nil, yamlx.At(it.Key(), "%s: want a list of names, or not_in: [names]", kind)
			}
			m.notIn, list = true, field(value, "not_in")
		}
		var err error
		m.names, _, err = stringList(list, kind, "[spring-sale] or {not_in: [spring-sale]}")
		return m, err
	}
}

func (m *memberOf) eval(_ context.Context, f *facts, _ Registry) (ConditionTrace, error) {
	v := m.of(&f.Call)
	in := v != "" && slices.Contains(m.names, v)
	return ConditionTrace{Holds: in != m.notIn, Value: v}, nil
}
