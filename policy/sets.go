package policy

import (
	"context"
	"slices"

	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// memberOf holds when a name the call carries (its campaign, dialer or
// seller: of reads it) is in the set, or with notIn when it is not. An empty
// name (the call did not say) is in no set. The trace value is the call's
// own name. campaign.go, dialer.go and seller.go register the keys.
type memberOf struct {
	names []string
	notIn bool
	of    func(*Call) string
}

// setParser reads a key's set: a list of names, or {not_in: [names]}.
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
