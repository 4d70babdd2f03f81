package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
	"github.com/gatekeeper-sip/gatekeeper/policy/areacodes"
)

// Engine decides calls by one policy file's rules. It is immutable after
// Parse and safe for concurrent use.
type Engine struct {
	reg     Registry
	name    string
	mode    string
	onError failModes
	rules   []rule
	sha256  string
	// conditions counts the conditions of all rules: the most a trace can hold,
	// so that Decide allocates its trace once.
	conditions int
	// counters are the attempt counters the rules read, with how long to keep an attempt.
	counters []counterKeep
	// usZones, usZoneNames are where a number of a non-geographic area code may ring.
	usZones     []*time.Location
	usZoneNames []string
	warnings    []warning
	lists       []string // declared under lists:, sorted
}

type counterKeep struct {
	scope counterScope
	keep  time.Duration
	most  int // a cap of N only needs the latest N attempts
}

// Parse reads a policy file's text; name is used in error messages, which
// read NAME:LINE:COLUMN. reg is the registry Decide will consult. Lists the
// registry does not hold yet are not an error: they get imported after the
// policy is written.
func Parse(name string, data []byte, reg Registry) (*Engine, error) {
	var f policyFile
	if err := yamlx.Decode(name, data, &f); err != nil {
		return nil, err
	}
	if !f.hasRules {
		return nil, &yamlx.Error{File: name, Msg: "the file has no rules: key; write rules: [] to allow every call"}
	}
	zones, zoneNames, err := areacodes.USZones()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	e := &Engine{reg: reg, name: name, mode: f.mode, onError: f.onError, rules: f.rules,
		sha256: hex.EncodeToString(sum[:]), usZones: zones, usZoneNames: zoneNames, warnings: f.warnings,
		lists: slices.Sorted(maps.Keys(f.lists))}
	for _, r := range e.rules {
		e.conditions += len(r.match)
	}
	for _, scope := range []counterScope{perNumber, perNumberAndCampaign} {
		if keep, used := f.counters[scope]; used {
			e.counters = append(e.counters, counterKeep{scope, keep, max(f.counterMost[scope], 1)})
		}
	}
	return e, nil
}

// SHA256 is the hex SHA-256 of the policy file's text, for the audit log.
func (e *Engine) SHA256() string { return e.sha256 }

// Mode is "enforce" or "monitor".
func (e *Engine) Mode() string { return e.mode }

// Decide runs the rules in order for one call; the first rule whose
// conditions all hold decides, and no match allows the call (rule "default").
// A matching rule marked monitor does not decide: it is remembered, the next
// rules run, and when none of them rejects, the decision is its would-be
// reject, forwarded. In monitor mode every reject comes back with Monitor set.
// A call without a time is decided as of now.
func (e *Engine) Decide(ctx context.Context, c Call) Decision {
	if c.Time.IsZero() {
		c.Time = time.Now()
	}
	if c.Called == "" {
		return e.finish(Decision{Action: Reject, Rule: ruleInvalidNumber, Status: 484, Reason: reasonPhrases[484], Error: c.CalledErr})
	}
	f := &facts{Call: c}
	if err := e.locate(f); err != nil {
		return e.finish(Decision{Action: Reject, Rule: ruleInvalidNumber, Status: 484, Reason: reasonPhrases[484], Error: err.Error()})
	}
	d := e.decide(ctx, f)
	d.Called = Place{State: f.state(), TimeZones: f.zoneNames}
	if f.place != nil {
		d.Called.AreaCode = f.place.AreaCode
	}
	if len(f.zones) > 0 {
		d.Called.LocalTime = c.Time.Truncate(time.Second).In(f.zones[0])
	}
	return e.finish(d)
}

func (e *Engine) finish(d Decision) Decision {
	d.Mode, d.PolicySHA256 = e.mode, e.sha256
	if d.Action == Reject && e.mode == modeMonitor {
		d.Monitor = true
	}
	return d
}

// locate finds where the called number rings, from its area code. A NANP
// number whose area code is not in service cannot ring anywhere: an error.
func (e *Engine) locate(f *facts) error {
	exchange, _, nanp := number.SplitNANP(f.Called)
	if !nanp {
		return nil
	}
	// The table was loaded by Parse (USZones), so Lookup cannot fail here.
	f.place, _ = areacodes.Lookup(int(exchange / 1000))
	switch {
	case f.place == nil:
		return fmt.Errorf("%s: area code %d is not in service", f.Called, exchange/1000)
	case len(f.place.Zones) == 0: // non-geographic (toll-free, 5XX, 900): rings anywhere
		f.zones, f.zoneNames = e.usZones, e.usZoneNames
	default:
		f.zones, f.zoneNames = f.place.Zones, f.place.ZoneNames
	}
	return nil
}

func (e *Engine) decide(ctx context.Context, f *facts) Decision {
	// One backing array for all condition traces: each rule's trace is a
	// slice of it, so a decision costs two allocations however many rules
	// run, and one more for each condition that cites several data versions
	// (ConditionTrace.Versions: line_type with port lists imported).
	trace := make([]RuleTrace, 0, len(e.rules))
	steps := make([]ConditionTrace, 0, e.conditions)
	var watched *rule // the first monitor rule that matched
	for i := range e.rules {
		r := &e.rules[i]
		first, matched := len(steps), true
		for _, cond := range r.match {
			step, err := cond.eval(ctx, f, e.reg)
			step.Kind = cond.kind
			steps = append(steps, step)
			if err != nil {
				trace = append(trace, RuleTrace{Rule: r.name, Monitor: r.monitor, Conditions: steps[first:len(steps):len(steps)]})
				return e.failure(f, fmt.Errorf("rule %s, condition %s: %w", r.name, cond.kind, err), trace)
			}
			if !step.Holds {
				matched = false
				break
			}
		}
		trace = append(trace, RuleTrace{Rule: r.name, Matched: matched, Monitor: r.monitor, Conditions: steps[first:len(steps):len(steps)]})
		switch {
		case !matched:
		case r.monitor:
			if watched == nil {
				watched = r
			}
		case r.action == Reject || watched == nil:
			return r.decision(trace)
		default: // an allow after a monitored reject: report what was watched
			d := watched.decision(trace)
			d.Monitor = true
			return d
		}
	}
	if watched != nil {
		d := watched.decision(trace)
		d.Monitor = true
		return d
	}
	return Decision{Action: Allow, Rule: ruleDefault, Trace: trace}
}

func (r *rule) decision(trace []RuleTrace) Decision {
	return Decision{Action: r.action, Rule: r.name, Status: r.status, Reason: r.reason, RetryAfter: r.retryAfter, Trace: trace}
}

// failure decides a call the rules could not, by the fail mode of its dial mode.
func (e *Engine) failure(f *facts, err error, trace []RuleTrace) Decision {
	d := Decision{Action: Allow, Rule: ruleRegistryError, Error: err.Error(), Trace: trace}
	failMode := e.onError.manual
	if f.Automated {
		failMode = e.onError.automated
	}
	if failMode == Reject {
		d.Action, d.Status, d.Reason, d.RetryAfter = Reject, 503, reasonPhrases[503], e.onError.retryAfter
	}
	return d
}

// AttemptsWindow is how far back the rules' frequency caps look: their
// longest window, 0 when no rule counts attempts.
func (e *Engine) AttemptsWindow() time.Duration {
	var window time.Duration
	for _, k := range e.counters {
		window = max(window, k.keep)
	}
	return window
}

// Forwarded records that the call went out to the carrier: the proxy calls it
// after forwarding an INVITE the policy let through, so that frequency caps
// count attempts, not rejected tries. It records under every counter the
// rules read, and does nothing when no rule counts attempts.
func (e *Engine) Forwarded(_ context.Context, c Call) error {
	if c.Called == "" || len(e.counters) == 0 {
		return nil
	}
	if c.Time.IsZero() {
		c.Time = time.Now()
	}
	var errs []error
	for _, k := range e.counters {
		if err := e.reg.RecordAttempt(k.scope.counterName(&c), c.Time, k.keep, k.most); err != nil {
			errs = append(errs, fmt.Errorf("record attempt to %s: %w", c.Called, err))
		}
	}
	return errors.Join(errs...)
}
