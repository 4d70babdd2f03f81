package policy

import (
	"context"
	"slices"

	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
	"github.com/gatekeeper-sip/gatekeeper/policy/areacodes"
)

// state holds when the called number's state or province, read from its
// area code (policy/areacodes), is one of those named by postal code:
//
//	match:
//	  state: [FL, OK, MD]
//
// A number whose area code names no state is in none. The trace value is the state.
type state struct {
	codes []string
}

func init() { registerCondition("state", parseState) }

func parseState(_ *parser, value ast.Node) (condition, error) {
	codes, nodes, err := stringList(value, "state", "[FL, OK]")
	if err != nil {
		return nil, err
	}
	for i, c := range codes {
		if !areacodes.HasState(c) {
			return nil, yamlx.At(nodes[i], "state: %q %s", c, notAState)
		}
	}
	return &state{codes: codes}, nil
}

// notAState says what a state code must be.
const notAState = "is not the postal code of a US state, territory or DC (or a Canadian province), such as FL"

func (s *state) eval(_ context.Context, f *facts, _ Registry) (ConditionTrace, error) {
	st := f.state()
	return ConditionTrace{Holds: st != "" && slices.Contains(s.codes, st), Value: st}, nil
}
