package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"

	sha256simd "github.com/minio/sha256-simd"
	"golang.org/x/mod/sumdb/tlog"
)

// hashField ends every line: `,"hash":"` + 64 hex digits + `"}`.
const (
	hashField     = `,"hash":"`
	hashHexLen    = 2 * sha256.Size
	hashSuffixLen = len(hashField) + hashHexLen + len(`"}`)
	prevField     = `,"prev":"`
)

// leafHasher computes records' hashes: the RFC 6962 leaf hash, SHA-256 of
// a zero byte followed by the record's JSON without its hash field (the
// line as stored, cut before `,"hash":` and closed with `}`). It hashes the
// line where it lies, without copying it, and one hasher serves every
// record of a run without allocating. Records of builds up to 2026-11-29
// also hold the previous record's hash in "prev", a chain verify still checks.
//
// The SHA-256 is minio/sha256-simd's (SHA-NI too): the same blocks cost
// the same, but each hash's setup and padding cost less than crypto/sha256's,
// ≈ 10–25 ns a record's leaf and ≈ 30 ns a node hash (nodeHash), both paid
// once a record by verify.
type leafHasher struct {
	h   hash.Hash
	sum tlog.Hash
}

var (
	leafPrefix  = []byte{0}
	closeRecord = []byte{'}'}
)

// leaf hashes a record given as record, its JSON up to its hash field
// without the closing brace (link.record; the writer's encoding minus its
// last byte).
func (lh *leafHasher) leaf(record []byte) tlog.Hash {
	if lh.h == nil {
		lh.h = sha256simd.New()
	}
	lh.h.Reset()
	lh.h.Write(leafPrefix)
	lh.h.Write(record)
	lh.h.Write(closeRecord)
	lh.h.Sum(lh.sum[:0])
	return lh.sum
}

// leaf is the leaf hash of the line's record, for a single use; a run of
// records reuses one leafHasher.
func (l link) leaf() tlog.Hash {
	var lh leafHasher
	return lh.leaf(l.record)
}

func hexHash(h tlog.Hash) [hashHexLen]byte {
	var out [hashHexLen]byte
	hex.Encode(out[:], h[:])
	return out
}

// parseHexHash reads 64 lowercase hex digits.
func parseHexHash(s []byte) (tlog.Hash, error) {
	var h tlog.Hash
	if len(s) != hashHexLen || !isLowerHex(s) {
		return h, errors.New("not 64 lowercase hex digits")
	}
	_, err := hex.Decode(h[:], s)
	return h, err
}

// link is what the chain and the tree need to know of one line.
// Its slices alias the line given to parseLine.
type link struct {
	seq  uint64
	prev []byte // hex; empty in records of today's form and in record 1
	hash []byte // hex
	// record is the line up to its hash field, without the closing brace
	// that the hashed body puts back (leafHasher.leaf).
	record []byte
	// redacted marks a record replaced by its stub (docs/audit.md):
	// its hash stands for the removed record and cannot be recomputed.
	redacted bool
}

// seqAt is where the seq field stands in a record: after the time field,
// whose layout has a fixed width.
const seqAt = len(`{"time":"`) + len(timeLayout) + len(`",`)

var seqKey = []byte(`"seq":`)

// parseLine reads one line (without its newline). An error means the line is
// not a complete record; whether its hash is right is the caller's question.
// It reads the fields by their place, which the writer fixes (≈ 10x faster
// than encoding/json), and copies nothing; the hash check covers every byte.
func parseLine(line []byte) (link, error) {
	l, err := parseLink(line)
	if err == nil && !isLowerHex(l.hash) {
		return link{}, errHashNotHex
	}
	return l, err
}

var errHashNotHex = errors.New("its hash is not 64 hex digits")

// parseLink is parseLine but for the check of the hash's digits, for verify,
// which compares them with the hex of the hash it computes: digits equal to
// those are hex, so only a line whose hash differs needs the check. That
// check cost verify ≈ 50 ns a record, 5 % of it (a profile of
// BenchmarkVerify/day, 2026-11-29).
func parseLink(line []byte) (link, error) {
	n := len(line)
	if n < hashSuffixLen+2 || !bytes.HasPrefix(line[n-hashSuffixLen:], []byte(hashField)) || !bytes.HasSuffix(line, []byte(`"}`)) {
		return link{}, errors.New("it does not end with a hash field")
	}
	hash := line[n-hashHexLen-2 : n-2]
	record := line[:n-hashSuffixLen]
	if record[0] != '{' {
		return link{}, errors.New("it is not a JSON object")
	}
	l := link{hash: hash, record: record}
	i := seqAt
	if len(record) < seqAt+len(seqKey) || !bytes.Equal(record[seqAt:seqAt+len(seqKey)], seqKey) {
		if i = bytes.Index(record, seqKey); i < 0 { // a redaction stub, or a record not written by the log
			return link{}, errors.New("it has no seq field")
		}
	}
	j := i + len(seqKey)
	k := j
	for ; k < len(record) && k-j < 19 && record[k] >= '0' && record[k] <= '9'; k++ {
		l.seq = l.seq*10 + uint64(record[k]-'0')
	}
	if k == j || (k < len(record) && record[k] != ',') {
		return link{}, errors.New("its seq is not a number")
	}
	// Records of builds up to 2026-11-29 name the previous record's hash in
	// prev (all but record 1, which has none or "prev":""). A prev that is not
	// the previous record's hash fails the chain check.
	if p := len(record) - len(prevField) - hashHexLen - 1; p >= 0 && bytes.Equal(record[p:p+len(prevField)], []byte(prevField)) {
		l.prev = record[len(record)-hashHexLen-1 : len(record)-1]
	}
	l.redacted = i == 1 && bytes.Contains(record, []byte(`,"redacted":`))
	return l, nil
}

// isLowerHex checks by table: two range tests per byte cost verify about a
// third of its time (BenchmarkVerify).
func isLowerHex(b []byte) bool {
	for _, c := range b {
		if !lowerHex[c] {
			return false
		}
	}
	return true
}

var lowerHex = [256]bool{'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true,
	'8': true, '9': true, 'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true}

// lineReader returns a file's lines, however long they are. It reads
// size bytes at a time (64 KiB when zero) into one buffer and returns
// lines where they lie in it; a line longer than the buffer grows it.
type lineReader struct {
	src  io.Reader
	size int
	buf  []byte
	r, w int   // buf[r:w] is read and not yet returned
	err  error // the error that ended src, once buf[r:w] is all there is
}

func (lr *lineReader) reset(r io.Reader) {
	if lr.size == 0 {
		lr.size = 64 << 10
	}
	if len(lr.buf) < lr.size {
		lr.buf = make([]byte, lr.size)
	}
	lr.src, lr.r, lr.w, lr.err = r, 0, 0, nil
}

// next returns the next line without its newline, valid until the next
// call; io.EOF comes with the last line when it has no newline, or alone.
func (lr *lineReader) next() ([]byte, error) {
	for scanned, empty := 0, 0; ; {
		if i := bytes.IndexByte(lr.buf[lr.r+scanned:lr.w], '\n'); i >= 0 {
			line := lr.buf[lr.r : lr.r+scanned+i]
			lr.r += scanned + i + 1
			return line, nil
		}
		scanned = lr.w - lr.r
		if lr.err != nil {
			line := lr.buf[lr.r:lr.w]
			lr.r = lr.w
			return line, lr.err
		}
		if lr.r > 0 { // keep the partial line, at the start
			lr.w = copy(lr.buf, lr.buf[lr.r:lr.w])
			lr.r = 0
		}
		if lr.w == len(lr.buf) {
			lr.buf = append(lr.buf, make([]byte, len(lr.buf))...)
		}
		n, err := lr.src.Read(lr.buf[lr.w:])
		lr.w += n
		if n > 0 {
			empty = 0
		} else {
			empty++
		}
		if err != nil {
			lr.err = err
		} else if empty == 100 { // as bufio gives up on a reader that returns nothing
			lr.err = io.ErrNoProgress
		}
	}
}
