package registry

import (
	"encoding/binary"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// Answers of the FCC Reassigned Numbers Database, imported offline (asking
// inline takes ~1.4 s): asked whether a number was permanently disconnected
// since a date, it answers yes, no or no_data. What a yes does to a consent
// is the policy's to decide (policy/consent.go).

// RNDRecord is one RND answer.
type RNDRecord struct {
	ID             string    `json:"id"`
	Number         string    `json:"number"`
	AskedOn        time.Time `json:"asked_on"` // the date asked about
	Answer         string    `json:"answer"`   // yes, no or no_data
	DisconnectedOn time.Time `json:"disconnected_on,omitzero"`
	Source         string    `json:"source"`
	Version        uint64    `json:"version"`
}

func encodeRND(dst []byte, a formats.RNDAnswer, file int, ordinal int64) []byte {
	dst = append(dst, a.Answer[0]) // y, n (no, no_data: told apart below)
	if a.Answer == "no_data" {
		dst[len(dst)-1] = 'd'
	}
	dst = binary.AppendUvarint(dst, uint64(ordinal))
	dst = binary.AppendUvarint(dst, uint64(file))
	dst = binary.AppendUvarint(dst, uint64(a.Line))
	dst = appendTime(dst, unixOrZero(a.AskedOn))
	return appendTime(dst, unixOrZero(a.DisconnectedOn))
}

func decodeRND(e164 string, version uint64, sources []SourceFile, v []byte, out []RNDRecord) ([]RNDRecord, error) {
	r := recordReader{v: v}
	for r.more() {
		a := RNDRecord{Number: e164, Version: version, Answer: map[byte]string{'y': "yes", 'n': "no", 'd': "no_data"}[r.v[0]]}
		r.v = r.v[1:]
		ordinal, file, line := r.uvarint(), r.uvarint(), r.uvarint()
		a.ID, a.Source = recordID(version, ordinal), recordSource(sources, file, line)
		a.AskedOn, a.DisconnectedOn = timeOrZero(r.varint()), timeOrZero(r.varint())
		out = append(out, a)
	}
	return out, r.err
}

// RNDAnswers returns the RND answers imported for the E.164 number, and the
// version of the answers (0: none imported). The records are shared with the
// cache: read them, do not modify them.
func (s *Store) RNDAnswers(e164 string) ([]RNDRecord, uint64, error) {
	return cachedNumberRecords(s, KindRND, e164, decodeRND)
}
