package policy

import (
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// Registry is what the policy asks of the data store. registry.Store
// implements it; the policy never sees how the data is stored, only the
// registry's answer types. Each answer carries the version of the data that
// gave it (and the record, for consents and exemptions), for the trace.
type Registry interface {
	// Listed reports whether the E.164 number is on the named list.
	Listed(list, e164 string) (bool, error)
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
	// Consent answers the consent that applies to a call to the number for
	// seller and campaign at time at, or why none does.
	Consent(e164, seller, campaign string, at time.Time) (registry.ConsentAnswer, error)
	// Exemption answers whether an established business relationship or a
	// written permission for seller is in force at time at, with the periods given.
	Exemption(e164, seller string, at time.Time, periods registry.ExemptionPeriods) (registry.ExemptionAnswer, error)
}
