package policy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/policy/areacodes"
)

// A condition is one test in a rule's match. Each kind lives in its own file
// named after its key (listed.go, outside_hours.go, ...) with its YAML shape,
// its validation and its evaluation, and registers itself in conditionKinds,
// so adding a kind touches only that file, its test file and docs/policy.md.
type condition interface {
	// eval reports whether the condition holds for the call, with the facts it
	// saw for the trace (Kind is filled in by the engine). An error (a registry
	// failure) makes the engine fall back to the fail mode of the call's dial mode.
	eval(ctx context.Context, f *facts, reg Registry) (ConditionTrace, error)
}

// conditionParser builds a condition from the YAML value under its key in
// match, returning errors made with yamlx.At so that they name line and
// column. p holds what the file declared before its rules: lists, calendars, states.
type conditionParser func(p *parser, value ast.Node) (condition, error)

// conditionKinds maps each key allowed under match to its parser.
var conditionKinds = map[string]conditionParser{}

// registerCondition adds a condition kind; each kind's file calls it from init.
func registerCondition(kind string, parse conditionParser) {
	if _, dup := conditionKinds[kind]; dup {
		panic(fmt.Sprintf("policy: condition kind %q registered twice", kind))
	}
	conditionKinds[kind] = parse
}

// knownKinds lists the condition kinds for error messages.
func knownKinds() string {
	return strings.Join(slices.Sorted(maps.Keys(conditionKinds)), ", ")
}

// namedCondition is a condition with the key it was written under, for the
// trace, and its text, to tell when one rule's conditions repeat another's.
type namedCondition struct {
	kind string
	text string
	condition
}

// facts are the call and what the policy derives from it once per decision.
type facts struct {
	Call
	// place is the called number's area code entry; nil outside the NANP.
	place *areacodes.Place
	// zones are where the called party may be (see Place.TimeZones); zoneNames match them.
	zones     []*time.Location
	zoneNames []string
}

// state is the called number's state or province, "" when unknown.
func (f *facts) state() string {
	if f.place == nil {
		return ""
	}
	return f.place.State
}
