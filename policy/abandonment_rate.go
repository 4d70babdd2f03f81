package policy

import (
	"context"
	"fmt"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// abandonmentRate holds when the call's campaign has abandoned at least a
// share of its live-answered calls in the current accounting period:
//
//	match:
//	  abandonment_rate: {at_least: 2.5%}                 # once 100 calls were live-answered in the period
//	  abandonment_rate: {at_least: 2.5%, min_calls: 300}
//
// The safe harbor of 16 CFR 310.4(b)(4)(i) allows at most 3 % of the
// live-answered calls of a campaign over each 30-day period; a rule with a
// lower threshold refuses a campaign's new calls before it gets there. The
// period is the registry's (registry.AbandonmentPeriodLength, cut from the
// campaign's first live-answered call) that the call's time falls in, and
// the rate is projected to the period's end as it stands: abandoned over
// live-answered so far. A rate over few calls says little (one abandoned
// call of the first ten is 10 %), so the condition holds only once the
// period has min_calls live-answered calls (default 100). The trace carries
// the rate, the counts and the period (Value) and the live-answered calls
// (Count).
type abandonmentRate struct {
	atLeast  float64 // a share, 0 to 1
	minCalls int64
}

// defaultMinCalls: at 100 live-answered calls one abandoned call moves the rate by 1 %.
const defaultMinCalls = 100

func init() { registerCondition("abandonment_rate", parseAbandonmentRate) }

func parseAbandonmentRate(_ *parser, value ast.Node) (condition, error) {
	const want = "abandonment_rate: want {at_least: PERCENT, min_calls: N}, e.g. {at_least: 2.5%%}"
	if _, ok := value.(ast.MapNode); !ok {
		return nil, yamlx.At(value, want)
	}
	var f struct {
		AtLeast  *config.Percent `yaml:"at_least"`
		MinCalls *int64          `yaml:"min_calls"`
	}
	if err := yaml.NodeToValue(value, &f, yaml.DisallowUnknownField()); err != nil {
		return nil, err
	}
	if f.AtLeast == nil {
		return nil, yamlx.At(value, want)
	}
	c := &abandonmentRate{atLeast: float64(*f.AtLeast), minCalls: defaultMinCalls}
	if f.MinCalls != nil {
		if *f.MinCalls < 1 {
			return nil, yamlx.At(field(value, "min_calls"), "abandonment_rate: min_calls is a number of live-answered calls, 1 or more")
		}
		c.minCalls = *f.MinCalls
	}
	return c, nil
}

// rateSlack absorbs float rounding: 5 of 200 reaches 2.5 %, however the
// two shares round.
const rateSlack = 1e-12

func (a *abandonmentRate) eval(_ context.Context, f *facts, reg Registry) (ConditionTrace, error) {
	p, err := reg.Abandonment(f.Campaign, f.Time)
	if err != nil {
		return ConditionTrace{}, err
	}
	if p.Start.IsZero() {
		return ConditionTrace{Value: "no live-answered call yet"}, nil
	}
	rate := p.Rate()
	return ConditionTrace{
		Holds: p.LiveAnswered >= a.minCalls && rate >= a.atLeast-rateSlack,
		Value: fmt.Sprintf("%.2f%% (%d of %d) in %s/%s", 100*rate, p.Abandoned, p.LiveAnswered,
			p.Start.UTC().Format(time.RFC3339), p.End.UTC().Format(time.RFC3339)),
		Count: int(p.LiveAnswered),
	}, nil
}
