package policy

import (
	"context"

	"github.com/goccy/go-yaml/ast"
)

// listed holds when the called number is on any of the named lists:
//
//	match:
//	  listed: [internal, ftc]
//
// Every list must be declared under lists:. Its trace value is the first
// list, in the order written, that holds the number. The trace cites the
// version of every list consulted up to it, or of all when none holds
// (version, or versions for several): the proof of what each list said. A list that has not been imported holds no number.
type listed struct {
	lists []string
}

func init() { registerCondition("listed", parseListed) }

func parseListed(p *parser, value ast.Node) (condition, error) {
	lists, nodes, err := stringList(value, "listed", "[internal]")
	if err != nil {
		return nil, err
	}
	for i, name := range lists {
		if err := p.list(nodes[i], name); err != nil {
			return nil, err
		}
	}
	return &listed{lists: lists}, nil
}

func (l *listed) eval(_ context.Context, f *facts, reg Registry) (ConditionTrace, error) {
	var t ConditionTrace
	for _, list := range l.lists {
		on, version, err := reg.Listed(list, f.Called)
		if err != nil {
			return ConditionTrace{}, err
		}
		t.Cite(version)
		if on {
			t.Holds, t.Value = true, list
			return t, nil
		}
	}
	return t, nil
}
