package policy

import (
	"context"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// attempts holds when the calls already sent to the number within the
// window reach the limit, so that this one would exceed it:
//
//	match:
//	  attempts: {limit: 3, within: 24h}                        # per number
//	  attempts: {limit: 1, within: 8h, per: number_and_campaign}
//	  attempts: by_state      # the limit the called number's state sets under states:
//
// An attempt is an INVITE the gatekeeper forwarded (Engine.Forwarded), not a
// rejected one; attempts are kept in the registry, so a restart does not
// forget them. The trace carries the count (Count) and the scope (Value).
// With a registry that is a CapReserver (several gatekeepers in a cluster)
// the call reserves its place under the cap instead, and the count is the
// limit when it got none, 0 when it did.
type attempts struct {
	cap    *attemptCap            // nil with by_state
	states map[string]*stateRules // with by_state
}

// attemptCap is a frequency cap: at most limit attempts per window.
type attemptCap struct {
	limit  int
	within time.Duration
	per    counterScope
}

// counterScope says what an attempt counter counts calls to.
type counterScope string

const (
	perNumber            counterScope = "number"
	perNumberAndCampaign counterScope = "number_and_campaign"
)

// counterName names the registry counter of the call in this scope.
func (s counterScope) counterName(c *Call) string {
	if s == perNumberAndCampaign {
		return "nc/" + c.Campaign + "/" + c.Called
	}
	return "n/" + c.Called
}

func init() { registerCondition("attempts", parseAttempts) }

func parseAttempts(p *parser, value ast.Node) (condition, error) {
	if byState(value) {
		return &attempts{states: p.states}, nil
	}
	c, err := p.parseAttemptCap(value, "attempts")
	return &attempts{cap: c}, err
}

// parseAttemptCap reads {limit, within, per} and tells the engine to keep
// attempts of that scope for at least the window.
func (p *parser) parseAttemptCap(node ast.Node, what string) (*attemptCap, error) {
	if _, ok := node.(ast.MapNode); !ok {
		return nil, yamlx.At(node, "%s: want {limit: N, within: PERIOD}, e.g. {limit: 3, within: 24h}", what)
	}
	var f struct {
		Limit  *int    `yaml:"limit"`
		Within anyNode `yaml:"within"`
		Per    string  `yaml:"per"`
	}
	if err := yaml.NodeToValue(node, &f, yaml.DisallowUnknownField()); err != nil {
		return nil, err
	}
	if f.Limit == nil || field(node, "within") == nil {
		return nil, yamlx.At(node, "%s: want both limit and within, e.g. {limit: 3, within: 24h}", what)
	}
	if *f.Limit < 0 {
		return nil, yamlx.At(field(node, "limit"), "%s: limit is a number of calls, 0 or more", what)
	}
	within, err := period(field(node, "within"), what+": within")
	if err != nil {
		return nil, err
	}
	c := &attemptCap{limit: *f.Limit, within: within, per: perNumber}
	switch counterScope(f.Per) {
	case "", perNumber:
	case perNumberAndCampaign:
		c.per = perNumberAndCampaign
	default:
		return nil, yamlx.At(field(node, "per"), "%s: per %q is not number or number_and_campaign", what, f.Per)
	}
	p.counters[c.per] = max(p.counters[c.per], within)
	p.counterMost[c.per] = max(p.counterMost[c.per], c.limit)
	return c, nil
}

func (a *attempts) eval(ctx context.Context, f *facts, reg Registry) (ConditionTrace, error) {
	c := a.cap
	if c == nil {
		rules := a.states[f.state()]
		if rules == nil || rules.attempts == nil {
			return ConditionTrace{Value: NoStateRule}, nil
		}
		c = rules.attempts
	}
	name := c.per.counterName(&f.Call)
	if r, ok := reg.(CapReserver); ok {
		reserved, err := r.ReserveAttempt(ctx, name, c.limit, c.within, f.CallID)
		if err != nil || reserved {
			return ConditionTrace{Value: string(c.per)}, err
		}
		return ConditionTrace{Holds: true, Value: string(c.per), Count: c.limit}, nil
	}
	n, err := reg.Attempts(name, f.Time.Add(-c.within), f.Time)
	return ConditionTrace{Holds: n >= c.limit, Value: string(c.per), Count: n}, err
}
