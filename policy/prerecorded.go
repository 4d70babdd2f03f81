package policy

import (
	"context"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// prerecorded holds when the call does (true) or does not (false) play an
// artificial or prerecorded voice, as the dialer says in the prerecorded header:
//
//	match:
//	  prerecorded: true
type prerecorded struct {
	want bool
}

func init() { registerCondition("prerecorded", parsePrerecorded) }

func parsePrerecorded(_ *parser, value ast.Node) (condition, error) {
	var want bool
	if _, ok := value.(*ast.BoolNode); !ok {
		return nil, yamlx.At(value, "prerecorded: want true or false")
	}
	if err := yaml.NodeToValue(value, &want); err != nil {
		return nil, yamlx.At(value, "prerecorded: want true or false")
	}
	return &prerecorded{want: want}, nil
}

func (p *prerecorded) eval(_ context.Context, f *facts, _ Registry) (ConditionTrace, error) {
	value := "false"
	if f.Prerecorded {
		value = "true"
	}
	return ConditionTrace{Holds: f.Prerecorded == p.want, Value: value}, nil
}
