package policy

import (
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
	"github.com/gatekeeper-sip/gatekeeper/policy/areacodes"
)

// The states table holds each state's own calling rules as data, keyed by
// postal code; the conditions outside_hours, holiday and attempts read it
// when written as by_state:
//
//	states:
//	  FL:
//	    hours: {daily: "08:00-20:00"}      # as in outside_hours
//	    attempts: {limit: 3, within: 24h}  # as in attempts
//	    source: Fla. Stat. 501.059         # free text for the reader
//	  AL:
//	    hours: {mon-sat: "08:00-20:00", sun: closed}
//	    holidays: federal                  # a calendar under holidays:
//
// A state without an entry, or an entry without the figure a condition asks
// for, makes that condition not hold (the federal rules still apply).
type stateRules struct {
	hours    *weekHours
	holidays *calendar
	attempts *attemptCap
}

func (p *parser) parseStates(node ast.Node) (map[string]*stateRules, error) {
	table := map[string]*stateRules{}
	if node == nil {
		return table, nil
	}
	mapping, ok := node.(ast.MapNode)
	if !ok {
		return nil, yamlx.At(node, "states: want one entry per state, e.g. FL: {hours: {daily: \"08:00-20:00\"}}")
	}
	for it := mapping.MapRange(); it.Next(); {
		code := it.Key().GetToken().Value
		if !areacodes.HasState(code) {
			return nil, yamlx.At(it.Key(), "states: %q %s", code, notAState)
		}
		rules, err := p.parseStateRules(code, it.Value())
		if err != nil {
			return nil, err
		}
		table[code] = rules
	}
	return table, nil
}

func (p *parser) parseStateRules(code string, node ast.Node) (*stateRules, error) {
	if _, ok := node.(ast.MapNode); !ok {
		return nil, yamlx.At(node, "states: %s: want hours, holidays, attempts or source", code)
	}
	var f struct {
		Hours    anyNode `yaml:"hours"`
		Holidays anyNode `yaml:"holidays"`
		Attempts anyNode `yaml:"attempts"`
		Source   string  `yaml:"source"`
	}
	if err := yaml.NodeToValue(node, &f, yaml.DisallowUnknownField()); err != nil {
		return nil, err
	}
	var r stateRules
	var err error
	if v := field(node, "hours"); v != nil {
		if r.hours, err = parseWeekHours(v, "states: "+code+": hours"); err != nil {
			return nil, err
		}
	}
	if v := field(node, "holidays"); v != nil {
		if r.holidays, err = p.calendar(v); err != nil {
			return nil, err
		}
	}
	if v := field(node, "attempts"); v != nil {
		if r.attempts, err = p.parseAttemptCap(v, "states: "+code+": attempts"); err != nil {
			return nil, err
		}
	}
	return &r, nil
}
