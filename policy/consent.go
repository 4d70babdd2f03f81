package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
	"github.com/gatekeeper-sip/gatekeeper/registry"
	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// consent holds when the consent that applies to the call is one of the
// kinds named: none, express or written.
//
//	match:
//	  consent: [none]             # no consent at all
//	  consent: [none, express]    # no written consent
//
// A consent applies when it is in scope for the call's seller and campaign
// (a record naming neither covers every call), granted before the call, not
// expired, not revoked (in the record, or live through `gatekeeper consent
// revoke`) and not voided by a Reassigned Numbers Database yes after its
// grant; written beats express. The trace value is the kind, or, for none,
// why no record applies; the trace names the record (the nearest miss for
// none) and cites the consent data's version, then that of the RND answers
// checked (when the number has records).
type consent struct {
	kinds []string
}

// ConsentNone is the kind of a ConsentAnswer when no consent applies; the
// others are the records' kinds, registry.ConsentExpress and registry.ConsentWritten.
const ConsentNone = "none"

// Why no consent or exemption applies (ConsentAnswer.Why, ExemptionAnswer.Why).
const (
	WhyAbsent     = "absent"       // the number has no record
	WhyOutOfScope = "out of scope" // records exist, for other sellers or campaigns
	WhyNotYet     = "not yet granted"
	WhyExpired    = "expired"
	WhyRevoked    = "revoked"
	WhyReassigned = "reassigned" // an RND yes after the grant: the number changed hands
)

// noConsent are the trace values of a call without consent, by why.
var noConsent = map[string]string{}

func init() {
	for _, why := range []string{WhyAbsent, WhyOutOfScope, WhyNotYet, WhyExpired, WhyRevoked, WhyReassigned} {
		noConsent[why] = "none: " + why
	}
}

var consentKinds = []string{ConsentNone, registry.ConsentExpress, registry.ConsentWritten}

func init() { registerCondition("consent", parseConsent) }

func parseConsent(_ *parser, value ast.Node) (condition, error) {
	kinds, nodes, err := stringList(value, "consent", "[none, express]")
	if err != nil {
		return nil, err
	}
	for i, k := range kinds {
		if !slices.Contains(consentKinds, k) {
			return nil, yamlx.At(nodes[i], "consent %q is not one of %s", k, strings.Join(consentKinds, ", "))
		}
	}
	return &consent{kinds: kinds}, nil
}

func (c *consent) eval(_ context.Context, f *facts, reg Registry) (ConditionTrace, error) {
	a, err := DecideConsent(reg, f.Called, f.Seller, f.Campaign, f.Time)
	if err != nil {
		return ConditionTrace{}, err
	}
	// Values made of constants and the record's own id: no allocation per call.
	value := a.Kind
	if a.Kind == ConsentNone {
		value = noConsent[a.Why]
	}
	var record string
	if a.Record != nil {
		record = a.Record.ID
	}
	t := ConditionTrace{Holds: slices.Contains(c.kinds, a.Kind), Value: value, Version: a.Version, Record: record}
	t.Cite(a.RNDVersion)
	return t, nil
}

// ConsentAnswer is the consent that applies to a call, or why none does.
type ConsentAnswer struct {
	Kind string // ConsentNone, registry.ConsentExpress or registry.ConsentWritten
	// Record is the record that applies; with none, the nearest miss (nil when absent).
	Record *registry.ConsentRecord
	Why    string // with none: one of the Why constants
	// Detail says more: the revocation, the RND answer, the expiry.
	Detail string
	// Version is the consent data set's version (0: none imported), RNDVersion
	// that of the RND answers checked (0: none checked).
	Version, RNDVersion uint64
}

// DecideConsent answers the consent that applies to a call to the E.164
// number for seller and campaign at time at, or why none does, from the
// number's consent records, live revocations and (when it has records) RND
// answers in reg. Errors are reg's.
func DecideConsent(reg Registry, e164, seller, campaign string, at time.Time) (ConsentAnswer, error) {
	records, revocations, version, err := reg.Consents(e164)
	if err != nil {
		return ConsentAnswer{}, err
	}
	var rnd []registry.RNDRecord
	var rndVersion uint64
	if len(records) > 0 {
		if rnd, rndVersion, err = reg.RNDAnswers(e164); err != nil {
			return ConsentAnswer{}, err
		}
	}
	a := pickConsent(consentQuery{seller: seller, campaign: campaign, at: at}, records, revocations, rnd)
	a.Version, a.RNDVersion = version, rndVersion
	return a, nil
}

// consentQuery is the call a consent is asked for.
type consentQuery struct {
	seller, campaign string
	at               time.Time
}

// inScope tells whether something granted or revoked for seller and campaign
// ("" meaning any) covers the call.
func (q consentQuery) inScope(seller, campaign string) bool {
	return (seller == "" || seller == q.seller) && (campaign == "" || campaign == q.campaign)
}

// pickConsent picks the consent that applies to the call among a number's
// records: in scope, granted before the call, not expired, not revoked (in
// the record or by a live revocation in scope made after the grant), not
// voided by an RND yes after the grant. Written beats express; among equals
// the latest grant. With none, Why says what the nearest miss was.
func pickConsent(q consentQuery, records []registry.ConsentRecord, revocations []registry.ConsentChange, rnd []registry.RNDRecord) ConsentAnswer {
	best, bestRank := -1, 0
	miss, missRank, missDetail := -1, 0, ""
	for i := range records {
		r := &records[i]
		if !q.inScope(r.Seller, r.Campaign) {
			if missRank < 1 {
				miss, missRank, missDetail = i, 1, ""
			}
			continue
		}
		why, detail := consentVoid(q, r, revocations, rnd)
		if why != "" {
			if rank := whyRank(why); rank > missRank {
				miss, missRank, missDetail = i, rank, detail
			}
			continue
		}
		rank := 1
		if r.Kind == registry.ConsentWritten {
			rank = 2
		}
		if rank > bestRank || rank == bestRank && r.GrantedAt.After(records[best].GrantedAt) {
			best, bestRank = i, rank
		}
	}
	if best >= 0 {
		return ConsentAnswer{Kind: records[best].Kind, Record: &records[best]}
	}
	a := ConsentAnswer{Kind: ConsentNone, Why: WhyAbsent}
	if miss >= 0 {
		a.Record, a.Detail = &records[miss], missDetail
		a.Why = [...]string{"", WhyOutOfScope, WhyNotYet, WhyExpired, WhyRevoked, WhyReassigned}[missRank]
	}
	return a
}

func whyRank(why string) int {
	return map[string]int{WhyNotYet: 2, WhyExpired: 3, WhyRevoked: 4, WhyReassigned: 5}[why]
}

// consentVoid says why an in-scope record does not hold at the call's time, or "".
func consentVoid(q consentQuery, r *registry.ConsentRecord, revocations []registry.ConsentChange, rnd []registry.RNDRecord) (string, string) {
	switch {
	case q.at.Before(r.GrantedAt):
		return WhyNotYet, "granted " + r.GrantedAt.Format(time.RFC3339)
	case !r.RevokedAt.IsZero() && !q.at.Before(r.RevokedAt):
		return WhyRevoked, "revoked " + r.RevokedAt.Format(time.RFC3339)
	}
	for i := range revocations {
		v := &revocations[i]
		if q.inScope(v.Seller, v.Campaign) && !v.At.Before(r.GrantedAt) && !q.at.Before(v.At) {
			return WhyRevoked, fmt.Sprintf("revoked %s by %s via %s", v.At.Format(time.RFC3339), v.By, v.Via)
		}
	}
	for i := range rnd {
		if a := &rnd[i]; rndVoids(a, r.GrantedAt, q.at) {
			return WhyReassigned, fmt.Sprintf("RND answer %s: yes, disconnected since %s", a.ID, disconnectedSince(a).Format(time.DateOnly))
		}
	}
	if !r.ExpiresAt.IsZero() && !q.at.Before(r.ExpiresAt) {
		return WhyExpired, "expired " + r.ExpiresAt.Format(time.RFC3339)
	}
	return "", ""
}

// ConsentSpent reports whether a consent grant can decide no call from now
// on: it expired by now, or a revocation in force by now, made at or after
// the grant, withdraws it for every call it covers (the revocation's scope
// is the grant's or wider: "" seller or campaign is any). A spent grant can
// be dropped from a store of live changes without changing any decision; a
// revocation never can (an import may bring its grants again).
func ConsentSpent(grant registry.ConsentRecord, revocations []registry.ConsentChange, now time.Time) bool {
	if !grant.ExpiresAt.IsZero() && !now.Before(grant.ExpiresAt) {
		return true
	}
	covers := func(revoked, granted string) bool { return revoked == "" || revoked == granted }
	for _, v := range revocations {
		if covers(v.Seller, grant.Seller) && covers(v.Campaign, grant.Campaign) && !v.At.Before(grant.GrantedAt) && !now.Before(v.At) {
			return true
		}
	}
	return false
}

// disconnectedSince is the date from which an RND answer knows the number disconnected.
func disconnectedSince(a *registry.RNDRecord) time.Time {
	if !a.DisconnectedOn.IsZero() {
		return a.DisconnectedOn
	}
	return a.AskedOn
}

// rndVoids tells whether the RND answer voids a consent granted at granted,
// for a call at at: a yes whose disconnection (or, without its date, the
// date asked about) is on or after the grant's day and not after the call.
func rndVoids(a *registry.RNDRecord, granted, at time.Time) bool {
	if a.Answer != "yes" {
		return false
	}
	since := disconnectedSince(a)
	return formats.DayOf(since) >= formats.DayOf(granted) && !since.After(at)
}
