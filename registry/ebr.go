package registry

import (
	"encoding/binary"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// Exemptions from the Do-Not-Call lists (47 CFR 64.1200(f)(5), TSR
// 310.4(b)(1)(iii)): an established business relationship, dated by the
// person's last purchase or inquiry, and written permission to call. The
// registry keeps the records; how long each exempts a number, and what
// overrides it, is the policy's (policy/exempt.go).

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

// Exemptions returns the exemption records of the E.164 number, and the data
// set's version (0: none imported). The records are shared with the cache:
// read them, do not modify them.
func (s *Store) Exemptions(e164 string) ([]ExemptionRecord, uint64, error) {
	return cachedNumberRecords(s, KindEBR, e164, decodeExemptions)
}
