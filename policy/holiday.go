package policy

import (
	"context"

	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// holiday holds when the called party's local date, in any zone of its area
// code, is a holiday of the named calendar (declared under holidays:):
//
//	match:
//	  holiday: federal
//	  holiday: by_state     # the calendar the called number's state names under states:
//
// The trace value is the holiday's name.
type holiday struct {
	cal    *calendar              // nil with by_state
	states map[string]*stateRules // with by_state
}

func init() { registerCondition("holiday", parseHoliday) }

func parseHoliday(p *parser, value ast.Node) (condition, error) {
	if byState(value) {
		return &holiday{states: p.states}, nil
	}
	cal, err := p.calendar(value)
	return &holiday{cal: cal}, err
}

// calendar finds the calendar a value names.
func (p *parser) calendar(node ast.Node) (*calendar, error) {
	name, err := yamlx.String(node)
	if err != nil {
		return nil, err
	}
	cal, ok := p.calendars[name]
	if !ok {
		return nil, yamlx.At(node, "holiday calendar %q is not declared under holidays:", name)
	}
	return cal, nil
}

func (h *holiday) eval(_ context.Context, f *facts, _ Registry) (ConditionTrace, error) {
	cal := h.cal
	if cal == nil {
		rules := h.states[f.state()]
		if rules == nil || rules.holidays == nil {
			return ConditionTrace{Value: NoStateRule}, nil
		}
		cal = rules.holidays
	}
	for _, zone := range f.zones {
		if name := cal.holiday(f.Time.In(zone)); name != "" {
			return ConditionTrace{Holds: true, Value: name}, nil
		}
	}
	return ConditionTrace{}, nil
}
