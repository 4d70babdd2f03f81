package policy

import (
	"context"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// Registry is what the policy asks of the data store. registry.Store
// implements it; the policy never sees how the data is stored, only the
// registry's answer and record types, and decides what the records mean
// (consent.go, exempt.go). Each answer carries the version of the data that
// gave it, for the trace. Returned slices are shared: read them, do not
// modify them.
type Registry interface {
	// Listed reports whether the E.164 number is on the named list, and the
	// version of the list that answered (0: never imported).
	Listed(list, e164 string) (listed bool, version uint64, err error)
	// ListDate returns the current version of the named list and the date
	// its data is as of: the source file's date when the import knew it,
	// else the time of the import. ok is false when the list was never imported.
	ListDate(list string) (version uint64, asOf time.Time, ok bool)
	// Attempts counts the attempts recorded under the counter name at or after from and before to.
	Attempts(name string, from, to time.Time) (int, error)
	// RecordAttempt records an attempt at time at under the counter name,
	// keeping at most the latest most attempts (a cap of N needs no more),
	// forgetting attempts older than keep.
	RecordAttempt(name string, at time.Time, keep time.Duration, most int) error
	// LineType tells what kind of line the E.164 number is, with the evidence
	// (port lists, the block of the routing number or of the number,
	// phonenumbers); routing is the LRN of an LNP dip, "" without one.
	LineType(e164, routing string) (registry.LineType, error)
	// Consents returns every consent record of the E.164 number (imported,
	// and added live), the live revocations, and the consent data set's
	// version (0: none imported).
	Consents(e164 string) (records []registry.ConsentRecord, revocations []registry.ConsentChange, version uint64, err error)
	// RNDAnswers returns the Reassigned Numbers Database answers imported for
	// the E.164 number, and their version.
	RNDAnswers(e164 string) ([]registry.RNDRecord, uint64, error)
	// Abandonment returns the campaign's abandonment accounting period
	// that time at falls in, with its live-answered and abandoned calls so
	// far (registry.Store.Abandonment); a zero Start when the campaign has
	// no live-answered call yet.
	Abandonment(campaign string, at time.Time) (registry.AbandonmentPeriod, error)
	// Exemptions returns the exemption records (purchases, inquiries, written
	// permissions) of the E.164 number, and their version.
	Exemptions(e164 string) ([]registry.ExemptionRecord, uint64, error)
}

// CapReserver is a Registry whose frequency caps are kept by a service that
// several gatekeepers share (cluster.Registry). The attempts condition then
// does not count and compare: it asks for a place under the cap for this
// call, and the call exceeds the cap when it gets none. The place is taken
// when the condition is evaluated, so a call that a later rule rejects keeps
// its place: a cap can fill early, never overflow.
type CapReserver interface {
	// ReserveAttempt takes a place for the call callID (its SIP Call-ID)
	// under the counter name, if fewer than limit calls took one within the
	// last within, and reports whether it did; the same callID again is the
	// same place.
	ReserveAttempt(ctx context.Context, name string, limit int, within time.Duration, callID string) (bool, error)
}
