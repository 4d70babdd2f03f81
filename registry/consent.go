package registry

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// Consent records say that a person agreed to a seller's (or a campaign's)
// automated calls: express, or written (telemarketing needs written). They are
// imported from CSV (a version, like any data set) and added or revoked one
// at a time, live, through the CLI or the running server's admin socket: a
// live change applies from the next call on and stays in force across
// imports, so that an import never undoes a revocation.

// The consent kinds, weakest first.
const (
	ConsentNone    = "none"
	ConsentExpress = "express"
	ConsentWritten = "written"
)

// Why no consent applies (ConsentAnswer.Why).
const (
	WhyAbsent     = "absent"       // the number has no consent record
	WhyOutOfScope = "out of scope" // records exist, for other sellers or campaigns
	WhyNotYet     = "not yet granted"
	WhyExpired    = "expired"
	WhyRevoked    = "revoked"
	WhyReassigned = "reassigned" // an RND yes after the grant: the number changed hands
)

// ConsentRecord is one consent.
type ConsentRecord struct {
	// ID is VERSION.ORDINAL for an imported record, live.NANOS for one added live.
	ID        string    `json:"id"`
	Number    string    `json:"number"`
	Seller    string    `json:"seller,omitempty"`   // "" for any seller
	Campaign  string    `json:"campaign,omitempty"` // "" for any campaign
	Kind      string    `json:"kind"`               // express or written
	GrantedAt time.Time `json:"granted_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	Evidence  string    `json:"evidence,omitempty"`
	Source    string    `json:"source"`            // FILE:LINE of an import, or who added it live and how
	Version   uint64    `json:"version,omitempty"` // the import it came from; 0 when added live
}

// ConsentChange is a consent added or revoked live, as recorded.
type ConsentChange struct {
	Action string         `json:"action"` // add or revoke
	Record *ConsentRecord `json:"record,omitempty"`
	// A revocation withdraws every consent of the number in its scope ("" for
	// any) granted before At.
	Number   string    `json:"number"`
	Seller   string    `json:"seller,omitempty"`
	Campaign string    `json:"campaign,omitempty"`
	At       time.Time `json:"at"`
	By       string    `json:"by"`
	Via      string    `json:"via"`
	Reason   string    `json:"reason,omitempty"`
}

// ConsentAnswer is the consent that applies to a call, or why none does.
type ConsentAnswer struct {
	Kind   string         `json:"kind"`             // none, express or written
	Record *ConsentRecord `json:"record,omitempty"` // the record that applies; with none, the nearest miss
	Why    string         `json:"why,omitempty"`    // with none: see the Why constants
	// Detail says more: the revocation, the RND answer, the expiry.
	Detail string `json:"detail,omitempty"`
	// Version is the consent data set's version (0: none imported), RNDVersion the RND answers' that were checked.
	Version    uint64 `json:"version,omitempty"`
	RNDVersion uint64 `json:"rnd_version,omitempty"`
}

// ConsentQuery is the call a consent is asked for.
type ConsentQuery struct {
	Number, Seller, Campaign string
	At                       time.Time
}

// inScope tells whether something granted or revoked for seller and campaign
// ("" meaning any) covers the call.
func (q ConsentQuery) inScope(seller, campaign string) bool {
	return (seller == "" || seller == q.Seller) && (campaign == "" || campaign == q.Campaign)
}

// DecideConsent picks the consent that applies to the call among a number's
// records: in scope, granted before the call, not expired, not revoked (in
// the record or by a live revocation in scope made after the grant), not
// voided by an RND yes after the grant. Written beats express; among equals
// the latest grant. With none, Why says what the nearest miss was.
func DecideConsent(q ConsentQuery, records []ConsentRecord, revocations []ConsentChange, rnd []RNDRecord) ConsentAnswer {
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
		if r.Kind == ConsentWritten {
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
func consentVoid(q ConsentQuery, r *ConsentRecord, revocations []ConsentChange, rnd []RNDRecord) (string, string) {
	switch {
	case q.At.Before(r.GrantedAt):
		return WhyNotYet, "granted " + r.GrantedAt.Format(time.RFC3339)
	case !r.RevokedAt.IsZero() && !q.At.Before(r.RevokedAt):
		return WhyRevoked, "revoked " + r.RevokedAt.Format(time.RFC3339)
	}
	for i := range revocations {
		v := &revocations[i]
		if q.inScope(v.Seller, v.Campaign) && !v.At.Before(r.GrantedAt) && !q.At.Before(v.At) {
			return WhyRevoked, fmt.Sprintf("revoked %s by %s via %s", v.At.Format(time.RFC3339), v.By, v.Via)
		}
	}
	for i := range rnd {
		if a := &rnd[i]; a.voids(r.GrantedAt, q.At) {
			return WhyReassigned, fmt.Sprintf("RND answer %s: yes, disconnected since %s", a.ID, a.since().Format(time.DateOnly))
		}
	}
	if !r.ExpiresAt.IsZero() && !q.At.Before(r.ExpiresAt) {
		return WhyExpired, "expired " + r.ExpiresAt.Format(time.RFC3339)
	}
	return "", ""
}

func encodeConsent(dst []byte, c formats.Consent, file int, ordinal int64) []byte {
	kind := byte('e')
	if c.Kind == ConsentWritten {
		kind = 'w'
	}
	dst = append(dst, kind)
	dst = binary.AppendUvarint(dst, uint64(ordinal))
	dst = binary.AppendUvarint(dst, uint64(file))
	dst = binary.AppendUvarint(dst, uint64(c.Line))
	dst = appendTime(dst, unixOrZero(c.GrantedAt))
	dst = appendTime(dst, unixOrZero(c.ExpiresAt))
	dst = appendTime(dst, unixOrZero(c.RevokedAt))
	dst = appendString(dst, c.Seller)
	dst = appendString(dst, c.Campaign)
	return appendString(dst, c.Evidence)
}

func decodeConsents(e164 string, version uint64, sources []SourceFile, v []byte, out []ConsentRecord) ([]ConsentRecord, error) {
	r := recordReader{v: v}
	for r.more() {
		c := ConsentRecord{Number: e164, Version: version, Kind: ConsentExpress}
		if r.v[0] == 'w' {
			c.Kind = ConsentWritten
		}
		r.v = r.v[1:]
		ordinal, file, line := r.uvarint(), r.uvarint(), r.uvarint()
		c.ID, c.Source = recordID(version, ordinal), recordSource(sources, file, line)
		c.GrantedAt, c.ExpiresAt, c.RevokedAt = timeOrZero(r.varint()), timeOrZero(r.varint()), timeOrZero(r.varint())
		c.Seller, c.Campaign, c.Evidence = r.string(), r.string(), r.string()
		out = append(out, c)
	}
	return out, r.err
}

func timeOrZero(unix int64) time.Time {
	if unix == 0 {
		return time.Time{}
	}
	return time.Unix(unix, 0).UTC()
}

// Consents returns every consent record of the number, imported and added
// live, and the live revocations, for inspection and for Consent.
func (s *Store) Consents(e164 string) ([]ConsentRecord, []ConsentChange, uint64, error) {
	records, version, err := cachedNumberRecords(s, KindConsent, e164, decodeConsents)
	records = slices.Clip(records) // shared with the cache: appending copies
	s.sets.liveMu.RLock()
	live := s.sets.liveConsent[e164]
	s.sets.liveMu.RUnlock()
	var revocations []ConsentChange
	for _, c := range live {
		if c.Action == "add" {
			records = append(records, *c.Record)
		} else {
			revocations = append(revocations, c)
		}
	}
	return records, revocations, version, err
}

// Consent answers the consent that applies to a call to the E.164 number for
// seller and campaign at time at, or why none does.
func (s *Store) Consent(e164, seller, campaign string, at time.Time) (ConsentAnswer, error) {
	records, revocations, version, err := s.Consents(e164)
	if err != nil {
		return ConsentAnswer{}, err
	}
	var rnd []RNDRecord
	var rndVersion uint64
	if len(records) > 0 {
		if rnd, rndVersion, err = s.RNDAnswers(e164); err != nil {
			return ConsentAnswer{}, err
		}
	}
	a := DecideConsent(ConsentQuery{Number: e164, Seller: seller, Campaign: campaign, At: at}, records, revocations, rnd)
	a.Version, a.RNDVersion = version, rndVersion
	return a, nil
}

// ConsentRequest adds a consent or revokes consents, live.
type ConsentRequest struct {
	Revoke   bool      `json:"revoke,omitempty"`
	Number   string    `json:"number"` // E.164
	Seller   string    `json:"seller,omitempty"`
	Campaign string    `json:"campaign,omitempty"`
	Kind     string    `json:"kind,omitempty"`   // add: express or written
	At       time.Time `json:"at,omitzero"`      // when granted or revoked; default now
	Expires  time.Time `json:"expires,omitzero"` // add: optional
	Evidence string    `json:"evidence,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	By       string    `json:"by"`
	Via      string    `json:"via"`
}

// consentLivePrefix holds the live consent changes, by number and time.
const consentLivePrefix = "clive/"

func consentLiveKey(e164 string, nanos int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(consentLivePrefix+e164+"/"), uint64(nanos))
}

// ChangeConsent adds a consent or revokes the consents of a number in a scope,
// with effect from the next lookup, and keeps the change for good.
func (s *Store) ChangeConsent(req ConsentRequest) (ConsentChange, error) {
	if e164, err := number.Normalize(req.Number, ""); err != nil || e164 != req.Number {
		return ConsentChange{}, fmt.Errorf("%q is not an E.164 number (+CC...)", req.Number)
	}
	if req.By == "" || req.Via == "" {
		return ConsentChange{}, errors.New("a consent change must say who asked (by) and how (via)")
	}
	now := time.Now().UTC()
	at := req.At
	if at.IsZero() {
		at = now
	}
	c := ConsentChange{Action: "revoke", Number: req.Number, Seller: req.Seller, Campaign: req.Campaign, At: at.UTC(),
		By: req.By, Via: req.Via, Reason: strings.TrimSpace(req.Reason)}
	if !req.Revoke {
		kind, err := formats.ConsentKind(req.Kind)
		if err != nil {
			return ConsentChange{}, err
		}
		if !req.Expires.IsZero() && !req.Expires.After(at) {
			return ConsentChange{}, fmt.Errorf("expires %s is not after the grant %s", req.Expires.Format(time.RFC3339), at.Format(time.RFC3339))
		}
		c.Action = "add"
		c.Record = &ConsentRecord{ID: fmt.Sprintf("live.%d", now.UnixNano()), Number: req.Number, Seller: req.Seller,
			Campaign: req.Campaign, Kind: kind, GrantedAt: at.UTC(), ExpiresAt: req.Expires.UTC(), Evidence: req.Evidence,
			Source: fmt.Sprintf("added %s by %s via %s", now.Format(time.RFC3339), req.By, req.Via)}
		if req.Expires.IsZero() {
			c.Record.ExpiresAt = time.Time{}
		}
	}
	data, err := json.Marshal(c)
	if err != nil {
		return ConsentChange{}, err
	}
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(consentLiveKey(c.Number, now.UnixNano()), data) }); err != nil {
		return ConsentChange{}, err
	}
	if err := s.db.Sync(); err != nil {
		return ConsentChange{}, err
	}
	s.sets.liveMu.Lock()
	// A new slice, so that a lookup holding the old one reads it unchanged.
	s.sets.liveConsent[c.Number] = append(slices.Clip(s.sets.liveConsent[c.Number]), c)
	s.sets.liveMu.Unlock()
	return c, nil
}

func (s *Store) loadLiveConsent(txn *badger.Txn) error {
	return iterate(txn, []byte(consentLivePrefix), func(item *badger.Item) error {
		var c ConsentChange
		if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &c) }); err != nil {
			return fmt.Errorf("live consent change %q: %w", item.Key(), err)
		}
		s.sets.liveConsent[c.Number] = append(s.sets.liveConsent[c.Number], c)
		return nil
	})
}
