package policy

import (
	"slices"
	"time"
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
	Trace []RuleTrace
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
	// LocalTime is the call's time in the first zone.
	LocalTime time.Time `json:"local_time,omitzero"`
}

// RuleTrace records one rule consulted for a decision. In JSON (the audit
// record's trace) a false Matched or Holds is left out: only the deciding
// rule says "matched":true, only a condition that held "holds":true. It is
// the one definition of the trace: the server writes it, and every reader of
// the log (audit query, policy replay, the auditors' web page) reads it,
// records of older builds too ("matched":false, "holds":false).
type RuleTrace struct {
	Rule    string `json:"rule"`
	Matched bool   `json:"matched,omitempty"`
	// Monitor marks a rule that only monitors: its match is logged, not enforced.
	Monitor bool `json:"monitor,omitempty"`
	// Conditions holds the conditions evaluated, in the order written; evaluation
	// stops at the first that does not hold, so later ones are absent.
	Conditions []ConditionTrace `json:"conditions"`
}

// ConditionTrace records one condition's outcome and the facts it saw.
type ConditionTrace struct {
	Kind  string `json:"kind"`
	Holds bool   `json:"holds,omitempty"`
	// Value is the fact the condition saw: the list that holds the number, the
	// state, the zone that is outside hours, the holiday, the caller ID class...
	Value string `json:"value,omitempty"`
	// Version is the import id of the data set consulted, whether or not the
	// condition holds (0: none was, or it was never imported); import ids are
	// unique across all data sets, so each names one data_change record.
	Version uint64 `json:"version,omitempty"`
	// Versions are the import ids, in the order consulted, when the condition
	// consulted several imported data sets (a listed condition of several
	// lists that hold no number, an exemption and its overriding lists);
	// Version is then 0.
	Versions []uint64 `json:"versions,omitempty"`
	// Count is the figure the condition compared: attempts in the window, a list's age in days.
	Count int `json:"count,omitempty"`
	// Record is the id of the consent or exemption record that answered, when one did.
	Record string `json:"record,omitempty"`
}

// cite adds the import id of a data set the condition consulted: to Version
// for the first, to Versions from the second on. A data set never imported
// (0) has no import to cite, and one cited already is not cited again.
func (c *ConditionTrace) cite(version uint64) {
	switch {
	case version == 0 || version == c.Version || slices.Contains(c.Versions, version):
	case c.Version == 0 && c.Versions == nil:
		c.Version = version
	case c.Versions == nil:
		c.Versions, c.Version = []uint64{c.Version, version}, 0
	default:
		c.Versions = append(c.Versions, version)
	}
}

// DataVersions are the import ids the condition cites: Versions, or Version
// alone, nil when none.
func (c ConditionTrace) DataVersions() []uint64 {
	if c.Versions != nil || c.Version == 0 {
		return c.Versions
	}
	return []uint64{c.Version}
}

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
