package policy

import (
	"context"

	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// listed holds when the called number is on any of the named lists:
//
//	match:
//	  listed: [internal, ftc]
//
// Its trace value is the first list, in the order written, that holds the
// number. A list that has not been imported holds no number.
type listed struct {
	lists []string
}

func init() { registerCondition("listed", parseListed) }

func parseListed(value ast.Node) (condition, error) {
	seq, ok := value.(*ast.SequenceNode)
	if !ok || len(seq.Values) == 0 {
		return nil, yamlx.At(value, "listed: want list names, e.g. [internal]")
	}
	l := &listed{lists: make([]string, 0, len(seq.Values))}
	for _, item := range seq.Values {
		name, err := yamlx.String(item)
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, yamlx.At(item, "listed: empty list name")
		}
		l.lists = append(l.lists, name)
	}
	return l, nil
}

func (l *listed) eval(_ context.Context, c Call, reg Registry) (bool, string, error) {
	for _, list := range l.lists {
		on, err := reg.Listed(list, c.Called)
		if err != nil {
			return false, "", err
		}
		if on {
			return true, list, nil
		}
	}
	return false, "", nil
}
