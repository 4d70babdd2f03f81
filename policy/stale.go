package policy

import (
	"context"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// stale holds when a data set is older than a number of days at the call's
// time, or was never imported:
//
//	match:
//	  stale: {list: ftc, older_than: 31d}
//
// Its age counts from the date the data is as of (the source file's date
// when the import knew it, else the import). The TSR safe harbor needs the
// national registry downloaded no more than 31 days before the call. The
// trace carries the list's version and its age in whole days (Count).
type stale struct {
	list      string
	olderThan time.Duration
	// neverImported is the trace value when the list is missing, made once here.
	neverImported string
}

func init() { registerCondition("stale", parseStale) }

func parseStale(p *parser, value ast.Node) (condition, error) {
	if _, ok := value.(ast.MapNode); !ok {
		return nil, yamlx.At(value, "stale: want {list: NAME, older_than: DAYS}, e.g. {list: ftc, older_than: 31d}")
	}
	var f struct {
		List      string  `yaml:"list"`
		OlderThan anyNode `yaml:"older_than"`
	}
	if err := yaml.NodeToValue(value, &f, yaml.DisallowUnknownField()); err != nil {
		return nil, err
	}
	listNode, ageNode := field(value, "list"), field(value, "older_than")
	if listNode == nil || ageNode == nil {
		return nil, yamlx.At(value, "stale: want both list and older_than, e.g. {list: ftc, older_than: 31d}")
	}
	if err := p.list(listNode, f.List); err != nil {
		return nil, err
	}
	age, err := period(ageNode, "stale: older_than")
	if err != nil {
		return nil, err
	}
	return &stale{list: f.List, olderThan: age, neverImported: f.List + " never imported"}, nil
}

func (s *stale) eval(_ context.Context, f *facts, reg Registry) (ConditionTrace, error) {
	version, asOf, ok := reg.ListDate(s.list)
	if !ok {
		return ConditionTrace{Holds: true, Value: s.neverImported}, nil
	}
	age := f.Time.Sub(asOf)
	return ConditionTrace{Holds: age > s.olderThan, Value: s.list, Version: version, Count: int(age / (24 * time.Hour))}, nil
}

// Freshness is a data set a rule needs fresh: the rule matches once the list
// is older than OlderThan at the call's time, or was never imported. The
// server watches these, so that a policy refusing calls for stale data says
// so in its log, not only in each call's answer.
type Freshness struct {
	Rule      string
	Action    Action // what the rule does when it matches
	Monitor   bool
	List      string
	OlderThan time.Duration
}

// Freshness lists, rule by rule, the stale conditions of the policy.
func (e *Engine) Freshness() []Freshness {
	var out []Freshness
	for _, r := range e.rules {
		for _, c := range r.match {
			if s, ok := c.condition.(*stale); ok {
				out = append(out, Freshness{Rule: r.name, Action: r.action, Monitor: r.monitor, List: s.list, OlderThan: s.olderThan})
			}
		}
	}
	return out
}
