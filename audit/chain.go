package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// hashField ends every line: `,"hash":"` + 64 hex digits + `"}`.
const (
	hashField     = `,"hash":"`
	hashHexLen    = 2 * sha256.Size
	hashSuffixLen = len(hashField) + hashHexLen + len(`"}`)
)

// chainHash is the hash of a record: SHA-256 over the previous record's hash
// (hex text, empty for the first record) followed by the record's JSON
// without its hash field, as hex. scratch is reused between calls.
func chainHash(scratch *[]byte, prev string, body []byte) [hashHexLen]byte {
	data := append(append((*scratch)[:0], prev...), body...)
	*scratch = data
	sum := sha256.Sum256(data)
	var out [hashHexLen]byte
	hex.Encode(out[:], sum[:])
	return out
}

// link is what the chain needs to know of one line.
type link struct {
	seq  uint64
	prev string
	hash string
	// body is the record's JSON without the hash field: what hash covers.
	// It aliases the scratch buffer given to parseLine.
	body []byte
}

// parseLine reads one line (without its newline). An error means the line is
// not a complete record; whether its hash is right is the caller's question.
func parseLine(line []byte, scratch *[]byte) (link, error) {
	n := len(line)
	if n < hashSuffixLen+2 || !bytes.HasPrefix(line[n-hashSuffixLen:], []byte(hashField)) || !bytes.HasSuffix(line, []byte(`"}`)) {
		return link{}, errors.New("it does not end with a hash field")
	}
	hash := line[n-hashHexLen-2 : n-2]
	if !isLowerHex(hash) {
		return link{}, errors.New("its hash is not 64 hex digits")
	}
	body := append(append((*scratch)[:0], line[:n-hashSuffixLen]...), '}')
	*scratch = body
	var fields struct {
		Seq  *uint64 `json:"seq"`
		Prev *string `json:"prev"`
	}
	if err := json.Unmarshal(body, &fields); err != nil {
		return link{}, fmt.Errorf("it is not JSON: %w", err)
	}
	if fields.Seq == nil || fields.Prev == nil {
		return link{}, errors.New("it has no seq or no prev field")
	}
	return link{seq: *fields.Seq, prev: *fields.Prev, hash: string(hash), body: body}, nil
}

func isLowerHex(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
