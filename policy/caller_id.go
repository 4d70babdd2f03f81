package policy

import (
	"context"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// caller_id holds when the caller ID sent falls in any of the named classes:
//
//	match:
//	  caller_id: [missing, anonymous, invalid]
//
// missing: no number at all; anonymous: a withheld identity (anonymous,
// restricted, private, unavailable, unknown, as RFC 3323 and carriers write
// it); invalid: anything that is not a number the gatekeeper reads as E.164.
// The rules require a number the called party can call back (47 CFR 64.1601(e)).
// The trace value is the class of the caller ID sent, or "valid".
type callerID struct {
	classes []string
}

func init() { registerCondition("caller_id", parseCallerID) }

var callerClasses = []string{"missing", "anonymous", "invalid"}

var withheldNames = []string{"anonymous", "restricted", "private", "unavailable", "unknown", "withheld"}

func parseCallerID(_ *parser, value ast.Node) (condition, error) {
	classes, nodes, err := stringList(value, "caller_id", "[missing, anonymous, invalid]")
	if err != nil {
		return nil, err
	}
	for i, c := range classes {
		if !slices.Contains(callerClasses, c) {
			return nil, yamlx.At(nodes[i], "caller_id: %q is not missing, anonymous or invalid", c)
		}
	}
	return &callerID{classes: classes}, nil
}

// callerClass sorts a caller ID as the proxy hands it: E.164 when it parsed, else as sent.
func callerClass(caller string) string {
	switch {
	case caller == "":
		return "missing"
	case slices.ContainsFunc(withheldNames, func(n string) bool { return strings.EqualFold(n, caller) }):
		return "anonymous"
	case caller[0] != '+':
		return "invalid"
	}
	return "valid"
}

func (c *callerID) eval(_ context.Context, f *facts, _ Registry) (ConditionTrace, error) {
	class := callerClass(f.Caller)
	return ConditionTrace{Holds: slices.Contains(c.classes, class), Value: class}, nil
}
