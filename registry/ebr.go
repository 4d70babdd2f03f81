package registry

import (
	"encoding/binary"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// Exemptions from the Do-Not-Call lists (47 CFR 64.1200(f)(5), TSR
// 310.4(b)(1)(iii)): an established business relationship, which lasts a
// period after the person's last purchase or inquiry, and written permission
// to call, which lasts until withdrawn. The periods are the policy's (18
// months after a purchase, 3 after an inquiry, by default); the registry
// answers with them. A company-specific Do-Not-Call request overrides an
// exemption: that is the policy's to check (the internal list).

// The exemption kinds.
const (
	ExemptPurchase   = "purchase"
	ExemptInquiry    = "inquiry"
	ExemptPermission = "permission"
)

// ExemptionRecord is one exemption.
type ExemptionRecord struct {
	ID      string    `json:"id"`
	Number  string    `json:"number"`
	Seller  string    `json:"seller,omitempty"` // "" for any seller
	Kind    string    `json:"kind"`             // purchase, inquiry or permission
	Date    time.Time `json:"date"`             // of the purchase, the inquiry or the permission
	Source  string    `json:"source"`
	Version uint64    `json:"version"`
}

// Period is a length of calendar time: months and days.
type Period struct {
	Months int `json:"months,omitempty"`
	Days   int `json:"days,omitempty"`
}

// after is the end of the period that starts at t.
func (p Period) after(t time.Time) time.Time { return t.AddDate(0, p.Months, p.Days) }

// ExemptionPeriods say how long a relationship exempts a number.
type ExemptionPeriods struct {
	Purchase, Inquiry Period
}

// DefaultExemptionPeriods are the federal ones: 18 months after a purchase, 3 after an inquiry.
var DefaultExemptionPeriods = ExemptionPeriods{Purchase: Period{Months: 18}, Inquiry: Period{Months: 3}}

// WhyEnded says that the relationship's period is over.
const WhyEnded = "ended"

// ExemptionAnswer says whether an exemption is in force for a call, and which.
type ExemptionAnswer struct {
	InForce bool             `json:"in_force"`
	Record  *ExemptionRecord `json:"record,omitempty"` // the one in force; without one, the latest in scope
	Until   time.Time        `json:"until,omitzero"`   // when it ends; zero for permission
	Why     string           `json:"why,omitempty"`    // without one: absent, out of scope, ended, not yet
	Version uint64           `json:"version,omitempty"`
}

// DecideExemption picks the exemption in force for seller at time at: a
// permission first, else the relationship that lasts longest.
func DecideExemption(records []ExemptionRecord, seller string, at time.Time, p ExemptionPeriods) ExemptionAnswer {
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
		case ExemptPurchase:
			until = p.Purchase.after(r.Date)
		case ExemptInquiry:
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

func encodeExemption(dst []byte, e formats.Exemption, file int, ordinal int64) []byte {
	dst = append(dst, e.Kind[0]) // p(urchase), i(nquiry), p(ermission): told apart below
	if e.Kind == ExemptPermission {
		dst[len(dst)-1] = 'w'
	}
	dst = binary.AppendUvarint(dst, uint64(ordinal))
	dst = binary.AppendUvarint(dst, uint64(file))
	dst = binary.AppendUvarint(dst, uint64(e.Line))
	dst = appendTime(dst, unixOrZero(e.Date))
	return appendString(dst, e.Seller)
}

func decodeExemptions(e164 string, version uint64, sources []SourceFile, v []byte, out []ExemptionRecord) ([]ExemptionRecord, error) {
	r := recordReader{v: v}
	for r.more() {
		e := ExemptionRecord{Number: e164, Version: version, Kind: map[byte]string{'p': ExemptPurchase, 'i': ExemptInquiry, 'w': ExemptPermission}[r.v[0]]}
		r.v = r.v[1:]
		ordinal, file, line := r.uvarint(), r.uvarint(), r.uvarint()
		e.ID, e.Source = recordID(version, ordinal), recordSource(sources, file, line)
		e.Date = timeOrZero(r.varint())
		e.Seller = r.string()
		out = append(out, e)
	}
	return out, r.err
}

// Exemptions returns the exemption records of the number, and the data set's version.
func (s *Store) Exemptions(e164 string) ([]ExemptionRecord, uint64, error) {
	return cachedNumberRecords(s, KindEBR, e164, decodeExemptions)
}

// Exemption answers whether an exemption is in force for a call to the
// number for seller at time at, with the periods given.
func (s *Store) Exemption(e164, seller string, at time.Time, p ExemptionPeriods) (ExemptionAnswer, error) {
	records, version, err := s.Exemptions(e164)
	if err != nil {
		return ExemptionAnswer{}, err
	}
	a := DecideExemption(records, seller, at, p)
	a.Version = version
	return a, nil
}
