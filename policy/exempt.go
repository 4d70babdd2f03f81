package policy

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// exempt holds when an exemption from the Do-Not-Call lists is (true) or is
// not (false) in force for the call's seller: an established business
// relationship within its period after a purchase or an inquiry, or a
// written permission to call (47 CFR 64.1200(f)(5); TSR 310.4(b)(1)(iii)):
//
//	match:
//	  listed: [ftc]
//	  exempt: false
//	  exempt: {in_force: false, purchase: 18mo, inquiry: 3mo, overridden_by: [internal]}
//
// The periods default to the federal 18 months after a purchase and 3 after
// an inquiry (18mo, 90d, 1y). A company-specific Do-Not-Call request
// overrides an exemption: a number on a list of overridden_by (default: the
// list named internal, when the policy declares one) has none. The trace
// value is the kind of the exemption in force, or why there is none; the
// trace names the record and cites the versions consulted: the overriding
// lists', then the exemption data's.
type exempt struct {
	inForce      bool
	periods      ExemptionPeriods
	overriddenBy []string
}

func init() { registerCondition("exempt", parseExempt) }

// noExemption are the trace values of a call without an exemption, by why.
var noExemption = map[string]string{}

func init() {
	for _, why := range []string{WhyAbsent, WhyOutOfScope, WhyNotYet, WhyEnded} {
		noExemption[why] = "none: " + why
	}
}

const exemptExample = "false, or {in_force: false, purchase: 18mo, inquiry: 3mo, overridden_by: [internal]}"

func parseExempt(p *parser, value ast.Node) (condition, error) {
	e := &exempt{periods: DefaultExemptionPeriods}
	if _, ok := p.lists["internal"]; ok {
		e.overriddenBy = []string{"internal"}
	}
	if _, ok := value.(*ast.BoolNode); ok {
		return e, yaml.NodeToValue(value, &e.inForce)
	}
	if _, ok := value.(ast.MapNode); !ok {
		return nil, yamlx.At(value, "exempt: want %s", exemptExample)
	}
	var f struct {
		InForce      *bool   `yaml:"in_force"`
		Purchase     anyNode `yaml:"purchase"`
		Inquiry      anyNode `yaml:"inquiry"`
		OverriddenBy anyNode `yaml:"overridden_by"`
	}
	if err := yaml.NodeToValue(value, &f, yaml.DisallowUnknownField()); err != nil {
		return nil, err
	}
	if f.InForce == nil {
		return nil, yamlx.At(value, "exempt: want in_force, e.g. %s", exemptExample)
	}
	e.inForce = *f.InForce
	for name, dst := range map[string]*Period{"purchase": &e.periods.Purchase, "inquiry": &e.periods.Inquiry} {
		if node := field(value, name); node != nil {
			var err error
			if *dst, err = calendarPeriod(node, "exempt: "+name); err != nil {
				return nil, err
			}
		}
	}
	if node := field(value, "overridden_by"); node != nil {
		lists, nodes, err := stringList(node, "exempt: overridden_by", "[internal]")
		if err != nil {
			return nil, err
		}
		for i, name := range lists {
			if err := p.list(nodes[i], name); err != nil {
				return nil, err
			}
		}
		e.overriddenBy = lists
	}
	return e, nil
}

// calendarPeriod reads months (18mo), years (1y) or days (90d).
func calendarPeriod(node ast.Node, what string) (Period, error) {
	s, err := yamlx.String(node)
	if err != nil {
		return Period{}, err
	}
	for suffix, unit := range map[string]func(int) Period{
		"mo": func(n int) Period { return Period{Months: n} },
		"y":  func(n int) Period { return Period{Months: 12 * n} },
		"d":  func(n int) Period { return Period{Days: n} },
	} {
		if digits, ok := strings.CutSuffix(s, suffix); ok {
			if n, err := strconv.Atoi(digits); err == nil && n > 0 {
				return unit(n), nil
			}
		}
	}
	return Period{}, yamlx.At(node, "%s: %q is not a period such as 18mo, 1y or 90d", what, s)
}

func (e *exempt) eval(_ context.Context, f *facts, reg Registry) (ConditionTrace, error) {
	var t ConditionTrace
	for _, list := range e.overriddenBy {
		on, version, err := reg.Listed(list, f.Called)
		if err != nil {
			return ConditionTrace{}, err
		}
		t.Cite(version)
		if on {
			t.Holds, t.Value = !e.inForce, "none: overridden by the "+list+" list"
			return t, nil
		}
	}
	a, err := DecideExemption(reg, f.Called, f.Seller, f.Time, e.periods)
	if err != nil {
		return ConditionTrace{}, err
	}
	t.Cite(a.Version)
	t.Holds, t.Value = a.InForce == e.inForce, noExemption[a.Why]
	if a.InForce {
		t.Value = a.Record.Kind
	}
	if a.Record != nil {
		t.Record = a.Record.ID
	}
	return t, nil
}

// Period is a length of calendar time: months and days.
type Period struct {
	Months, Days int
}

// after is the end of the period that starts at t.
func (p Period) after(t time.Time) time.Time { return t.AddDate(0, p.Months, p.Days) }

// ExemptionPeriods say how long a relationship exempts a number after the
// purchase or the inquiry.
type ExemptionPeriods struct {
	Purchase, Inquiry Period
}

// DefaultExemptionPeriods are the federal ones (47 CFR 64.1200(f)(5)): 18
// months after a purchase, 3 after an inquiry.
var DefaultExemptionPeriods = ExemptionPeriods{Purchase: Period{Months: 18}, Inquiry: Period{Months: 3}}

// WhyEnded says that the relationship's period is over (ExemptionAnswer.Why).
const WhyEnded = "ended"

// ExemptionAnswer says whether an exemption is in force for a call, and which.
type ExemptionAnswer struct {
	InForce bool
	// Record is the one in force; without one, the latest in scope (nil when none is).
	Record *registry.ExemptionRecord
	Until  time.Time // when it ends; zero for a permission
	// Why says, without one: WhyAbsent, WhyOutOfScope, WhyEnded or WhyNotYet.
	Why     string
	Version uint64 // the exemption data set's version (0: none imported)
}

// DecideExemption answers whether an exemption is in force for a call to the
// E.164 number for seller at time at, with the periods given, from the
// number's exemption records in reg: a permission first, else the
// relationship that lasts longest. A company-specific Do-Not-Call request is
// not checked here (the exempt condition's overridden_by). Errors are reg's.
func DecideExemption(reg Registry, e164, seller string, at time.Time, p ExemptionPeriods) (ExemptionAnswer, error) {
	records, version, err := reg.Exemptions(e164)
	if err != nil {
		return ExemptionAnswer{}, err
	}
	a := pickExemption(records, seller, at, p)
	a.Version = version
	return a, nil
}

// pickExemption picks the exemption in force for seller at time at among a
// number's records: a permission first, else the relationship that lasts longest.
func pickExemption(records []registry.ExemptionRecord, seller string, at time.Time, p ExemptionPeriods) ExemptionAnswer {
	a := ExemptionAnswer{Why: WhyAbsent}
	for i := range records {
		r := &records[i]
		if r.Seller != "" && r.Seller != seller {
			if a.Record == nil {
				a.Why = WhyOutOfScope
			}
			continue
		}
		var until time.Time
		switch r.Kind {
		case registry.ExemptPurchase:
			until = p.Purchase.after(r.Date)
		case registry.ExemptInquiry:
			until = p.Inquiry.after(r.Date)
		}
		switch {
		case at.Before(r.Date):
			if a.Record == nil {
				a.Record, a.Why = r, WhyNotYet
			}
		case until.IsZero(): // permission
			if !a.InForce || !a.Until.IsZero() {
				a = ExemptionAnswer{InForce: true, Record: r}
			}
		case at.Before(until):
			if !a.InForce || !a.Until.IsZero() && until.After(a.Until) {
				a = ExemptionAnswer{InForce: true, Record: r, Until: until}
			}
		case !a.InForce && (a.Record == nil || r.Date.After(a.Record.Date)):
			a.Record, a.Until, a.Why = r, until, WhyEnded
		}
	}
	return a
}
