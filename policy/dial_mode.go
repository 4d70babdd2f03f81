package policy

import (
	"context"

	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// dial_mode holds when the call was dialed the way named: automated (placed
// by the dialer's own selection and dialing) or manual (dialed by an agent):
//
//	match:
//	  dial_mode: automated
//
// The mode comes from the dialer's configuration, overridden per call by the
// dial-mode header. The trace value is the call's mode.
type dialMode struct {
	automated bool
}

func init() { registerCondition("dial_mode", parseDialMode) }

const (
	modeAutomated = "automated"
	modeManual    = "manual"
)

func parseDialMode(_ *parser, value ast.Node) (condition, error) {
	s, err := yamlx.String(value)
	if err != nil || s != modeAutomated && s != modeManual {
		return nil, yamlx.At(value, "dial_mode: want automated or manual")
	}
	return &dialMode{automated: s == modeAutomated}, nil
}

func (d *dialMode) eval(_ context.Context, f *facts, _ Registry) (ConditionTrace, error) {
	mode := modeManual
	if f.Automated {
		mode = modeAutomated
	}
	return ConditionTrace{Holds: f.Automated == d.automated, Value: mode}, nil
}
