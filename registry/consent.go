package registry

import (
	"cmp"
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

// The consent kinds.
const (
	ConsentExpress = "express"
	ConsentWritten = "written"
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

// Consents returns every consent record of the E.164 number, imported and
// added live, the live revocations (each withdraws the consents in its scope
// granted before it), and the consent data set's version (0: none imported).
// The records are shared with the cache: read them, do not modify them.
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
// Check returns an error that says why the request cannot be carried out:
// a number not in E.164 form, no by or via, or for a grant a kind other
// than express or written, or an expiry not after the grant (At; a zero
// At is now).
func (req ConsentRequest) Check() error {
	if e164, err := number.Normalize(req.Number, ""); err != nil || e164 != req.Number {
		return fmt.Errorf("%q is not an E.164 number (+CC...)", req.Number)
	}
	if req.By == "" || req.Via == "" {
		return errors.New("a consent change must say who asked (by) and how (via)")
	}
	if req.Revoke {
		return nil
	}
	if _, err := formats.ConsentKind(req.Kind); err != nil {
		return err
	}
	at := cmp.Or(req.At, time.Now())
	if !req.Expires.IsZero() && !req.Expires.After(at) {
		return fmt.Errorf("expires %s is not after the grant %s", req.Expires.Format(time.RFC3339), at.Format(time.RFC3339))
	}
	return nil
}

const consentLivePrefix = "clive/"

func consentLiveKey(e164 string, nanos int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(consentLivePrefix+e164+"/"), uint64(nanos))
}

// ChangeConsent adds a consent or revokes the consents of a number in a scope,
// with effect from the next lookup, and keeps the change for good.
func (s *Store) ChangeConsent(req ConsentRequest) (ConsentChange, error) {
	now := time.Now().UTC()
	if req.At.IsZero() {
		req.At = now
	}
	if err := req.Check(); err != nil {
		return ConsentChange{}, err
	}
	at := req.At
	c := ConsentChange{Action: "revoke", Number: req.Number, Seller: req.Seller, Campaign: req.Campaign, At: at.UTC(),
		By: req.By, Via: req.Via, Reason: strings.TrimSpace(req.Reason)}
	if !req.Revoke {
		kind, _ := formats.ConsentKind(req.Kind)
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
