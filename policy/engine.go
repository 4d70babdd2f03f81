package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// registryRetryAfter is the Retry-After (seconds) sent with the 503 that
// rejects an automated call when the registry fails: long enough for a store
// to recover, short enough that a dialer's retry lands within the campaign.
const registryRetryAfter = 30

// Engine decides calls by one policy file's rules. It is immutable after
// Parse and safe for concurrent use.
type Engine struct {
	reg    Registry
	mode   string
	rules  []rule
	sha256 string
	// conditions counts the conditions of all rules: the most a trace can hold,
	// so that Decide allocates its trace once.
	conditions int
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
	if f.Rules == nil {
		return nil, &yamlx.Error{File: name, Msg: "the file has no rules: key; write rules: [] to allow every call"}
	}
	sum := sha256.Sum256(data)
	e := &Engine{reg: reg, mode: string(f.Mode), rules: f.Rules, sha256: hex.EncodeToString(sum[:])}
	if e.mode == "" {
		e.mode = modeEnforce
	}
	for _, r := range e.rules {
		e.conditions += len(r.match)
	}
	return e, nil
}

// SHA256 is the hex SHA-256 of the policy file's text, for the audit log.
func (e *Engine) SHA256() string { return e.sha256 }

// Mode is "enforce" or "monitor".
func (e *Engine) Mode() string { return e.mode }

// Decide runs the rules in order for one call; the first rule whose
// conditions all hold decides, and no match allows the call (rule "default").
// In monitor mode a reject comes back with Monitor set: the call goes on.
func (e *Engine) Decide(ctx context.Context, c Call) Decision {
	d := e.decide(ctx, &c)
	d.Mode, d.PolicySHA256 = e.mode, e.sha256
	d.Monitor = d.Action == Reject && e.mode == modeMonitor
	return d
}

func (e *Engine) decide(ctx context.Context, c *Call) Decision {
	if c.Called == "" {
		return Decision{Action: Reject, Rule: ruleInvalidNumber, Status: 484, Reason: reasonPhrases[484], Error: c.CalledErr}
	}
	// One backing array for all condition traces: each rule's trace is a
	// slice of it, so a decision costs two allocations however many rules run.
	trace := make([]RuleTrace, 0, len(e.rules))
	steps := make([]ConditionTrace, 0, e.conditions)
	for i := range e.rules {
		r := &e.rules[i]
		first, matched := len(steps), true
		for _, cond := range r.match {
			holds, value, err := cond.eval(ctx, *c, e.reg)
			steps = append(steps, ConditionTrace{Kind: cond.kind, Holds: holds, Value: value})
			if err != nil {
				trace = append(trace, RuleTrace{Rule: r.name, Conditions: steps[first:len(steps):len(steps)]})
				return registryFailure(c, fmt.Errorf("rule %s, condition %s: %w", r.name, cond.kind, err), trace)
			}
			if !holds {
				matched = false
				break
			}
		}
		trace = append(trace, RuleTrace{Rule: r.name, Matched: matched, Conditions: steps[first:len(steps):len(steps)]})
		if matched {
			return Decision{Action: r.action, Rule: r.name, Status: r.status, Reason: r.reason, Trace: trace}
		}
	}
	return Decision{Action: Allow, Rule: ruleDefault, Trace: trace}
}

// registryFailure decides a call the rules could not: automated calls fail
// closed (503 with Retry-After, the dialer tries again later); manual calls
// fail open, so that an outage does not stop the calls agents dial by hand.
func registryFailure(c *Call, err error, trace []RuleTrace) Decision {
	d := Decision{Action: Allow, Rule: ruleRegistryError, Error: err.Error(), Trace: trace}
	if c.Automated {
		d.Action, d.Status, d.Reason, d.RetryAfter = Reject, 503, reasonPhrases[503], registryRetryAfter
	}
	return d
}
