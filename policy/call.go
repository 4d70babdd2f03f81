package policy

import (
	"slices"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/internal/trace"
)

// Call holds the facts of one outbound call attempt.
type Call struct {
	CallID string
	// Called is the called number in E.164; empty when CalledRaw could not be parsed.
	Called string
	// CalledRaw is the called number as sent, with its parameters (CallInput.Called).
	CalledRaw string
	// CalledErr says why CalledRaw could not be parsed.
	CalledErr string
	// RoutingNumber is the LRN (E.164) from an `;npdi;rn=` parameter, when the dialer did a dip.
	RoutingNumber string
	// Caller is the caller ID sent (P-Asserted-Identity, else From), E.164 when it parses, else as sent.
	Caller   string
	Source   string // ip:port the request came from
	Dialer   string // configured dialer name
	Campaign string
	// Seller is on whose behalf the call is made: a configurable header, else
	// the campaign's configured seller, else the dialer's.
	Seller    string
	Automated bool
	// Prerecorded marks a call that plays an artificial or prerecorded voice.
	Prerecorded bool
	Time        time.Time
}

// Action is what a decision does with the call.
type Action string

const (
	Allow  Action = "allow"
	Reject Action = "reject"
)

// Decision is the policy's answer for one call.
type Decision struct {
	Action Action
	// Rule names the rule that decided; "default" when none matched.
	Rule string
	// Status and Reason are the SIP answer for a reject (e.g. 603, "Decline").
	Status int
	Reason string
	// Monitor is true when the decision would reject but the policy (or the
	// rule) only monitors: the call is forwarded and the would-be rejection logged.
	Monitor bool
	// Mode is the policy mode in force: "enforce" or "monitor".
	Mode string
	// RetryAfter, in seconds, is the Retry-After value to send with the reject; 0 for none.
	RetryAfter int
	// Error says what went wrong when the decision was not made by a rule:
	// the registry error (rule "registry-error") or why the number did not
	// parse or cannot exist ("invalid-number").
	Error string
	// Called is where the policy takes the called party to be, and its local time.
	Called Place
	// Trace lists the rules consulted, in order, up to the one that decided.
	Trace Trace
	// PolicySHA256 is the hash of the policy file that decided (hex), for the audit log.
	PolicySHA256 string
}

// RegistryFailed reports whether no rule decided the call because the
// registry failed (rule "registry-error", decided by on_error): the node's
// own data could not be read, not a rule's answer.
func (d Decision) RegistryFailed() bool { return d.Rule == ruleRegistryError }

// Place is the called party's location as the policy reads it from the area
// code: the basis of every local-time and state rule.
type Place struct {
	AreaCode string `json:"area_code,omitempty"`
	State    string `json:"state,omitempty"`
	// TimeZones holds every zone the area code spans; a time rule holds when
	// it holds in any of them. A number of a non-geographic area code
	// (toll-free, 5XX, 900) gets every US zone; a number outside the NANP gets none.
	TimeZones []string `json:"time_zones,omitempty"`
	// LocalTime is the call's time in the first zone, to the second (the
	// decision's own time has the nanoseconds).
	LocalTime time.Time `json:"local_time,omitzero"`
}

// Trace, RuleTrace and ConditionTrace are the decision's trace: the rules
// consulted, each condition's outcome and the facts and data versions it
// saw. The trace is defined once, in internal/trace, with its JSON (the
// audit record's "trace", compact, and the long form of older records):
// the policy writes it and the log's readers read it.
type (
	Trace          = trace.Trace
	RuleTrace      = trace.Rule
	ConditionTrace = trace.Condition
)

// DataVersions are the import ids the decision's trace cites, each once, in
// the order first cited; nil when none.
func (d Decision) DataVersions() []uint64 {
	var out []uint64
	for _, r := range d.Trace {
		for _, c := range r.Conditions {
			for _, v := range c.DataVersions() {
				if !slices.Contains(out, v) {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// Forward tells whether the proxy sends the call on to the carrier.
func (d Decision) Forward() bool { return d.Action == Allow || d.Monitor }
