package audit

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/gatekeeper-sip/gatekeeper/internal/trace"
)

// Record kinds that evidence gathers besides decisions. Their writers add
// the fields named here; evidence reads no others.
const (
	// KindOutcome is what became of a forwarded call; it carries call_id.
	KindOutcome = "outcome"
	// KindPolicyLoaded is a policy taking effect; it carries policy_sha256,
	// and the text is archived as policies/<policy_sha256>.yaml.
	KindPolicyLoaded = "policy_loaded"
	// KindDataChange is a change of a list or data set (an import, a live
	// opt-out, a consent change); it carries version, the import id that
	// decisions' traces cite, and number for a change of one number.
	KindDataChange = "data_change"
)

// EvidenceFormat names the bundle format that docs/audit.md describes; the
// bundles of format 1 (gatekeeper-evidence/1, an inclusion proof for each
// record) and 2 (the records as JSON strings, all in one multiproof) are
// still read.
const EvidenceFormat = "gatekeeper-evidence/3"

const (
	evidenceFormat1 = "gatekeeper-evidence/1"
	evidenceFormat2 = "gatekeeper-evidence/2"
)

// PoliciesDir is the folder of the audit folder where every policy text that
// was loaded is kept, as <sha256>.yaml.
const PoliciesDir = "policies"

// Bundle is the evidence of one call: its decision and outcome records, the
// records of the data versions they name, one proof that they are all in
// the tree of a signed checkpoint, and the policy text. It holds no record
// that names another called number.
type Bundle struct {
	Format string `json:"format"`
	// CallID is the call's Call-ID, for the file's name; the bundle says it
	// only in its decision (formats 1 and 2 repeated it as call_id).
	CallID string `json:"-"`
	// Checkpoint is the signed checkpoint (a note) the proof leads to.
	Checkpoint string `json:"checkpoint"`
	// Proof is the multiproof, in the checkpoint's tree, of the leaves of the
	// records no other record of the bundle names (by data_hashes or
	// decision_hash): the hashes of the subtrees that hold none of them, 32
	// bytes each, in the order docs/audit.md gives; base64 (RFC 4648 §4) in
	// JSON.
	Proof []byte `json:"proof"`
	// Policies maps a policy's SHA-256 (hex) to its text.
	Policies map[string]string `json:"policies,omitempty"`
	// Records are the lines as stored without their hash field (the bodies
	// their hashes cover, which the check computes), in seq order; record
	// seq is leaf seq-1. Encode writes them last, as JSON objects, one a line.
	Records []string `json:"-"`
}

// FileName is where the bundle is saved by default: evidence-CALL-ID.json,
// the Call-ID kept to letters, digits and . - _ @ (others become _).
func (b *Bundle) FileName() string {
	return "evidence-" + strings.Map(func(r rune) rune {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_@", r)) {
			return r
		}
		return '_'
	}, b.CallID) + ".json"
}

// Encode is the bundle's file: a JSON object whose first line holds the
// fields but the records, with <, > and & as they are (not \u003c...), up to
// `"records":[`; then each record as stored, a JSON object, on a line of its
// own (with a comma after all but the last); then `]}` and a newline. The
// records so need no escaping (about 500 bytes less) and no unquoting, and
// any language finds their bytes by splitting the file at newlines, which
// JSON strings hold only escaped. json v2 writes the fields in half the
// time encoding/json took (BenchmarkEvidence/build).
func (b *Bundle) Encode() ([]byte, error) {
	data, err := jsonv2.Marshal(b, jsonv2.Deterministic(true))
	if err != nil {
		return nil, err
	}
	size := len(data) + 16
	for _, r := range b.Records {
		size += len(r) + 2
	}
	out := append(make([]byte, 0, size), data[:len(data)-1]...)
	out = append(out, `,"records":[`...)
	for i, r := range b.Records {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(append(out, '\n'), r...)
	}
	return append(out, "\n]}\n"...), nil
}

// provenRecord is a record of a format 1 bundle: the line with the RFC 6962
// inclusion proof of its leaf alone.
type provenRecord struct {
	Line  string      `json:"line"`
	Proof []tlog.Hash `json:"proof"` // base64, leaf to root (tlog.RecordProof)
}

// EvidenceQuery names a call: by CallID, or by the called number (E.164) and
// a time near its decision (the closest decision within a day wins).
type EvidenceQuery struct {
	CallID string
	Called string
	At     time.Time
}

// recordFields are the fields evidence reads from a record.
type recordFields struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	CallID string    `json:"call_id"`
	Called string    `json:"called"`
	Number string    `json:"number"`
	// Version is a data change's import id (a decision's is its build).
	Version      json.RawMessage `json:"version"`
	PolicySHA256 string          `json:"policy_sha256"`
	// DataHashes (a decision's) and DecisionHash (an outcome's) name
	// earlier records by their leaf hashes (names.go).
	DataHashes   []string    `json:"data_hashes"`
	DecisionHash string      `json:"decision_hash"`
	Hash         string      `json:"hash"`
	Trace        trace.Trace `json:"trace"`
}

type foundRecord struct {
	recordFields
	line []byte
}

// Evidence gathers the bundle of one call from the log in dir, proven
// against the first checkpoint that covers all its records (whose signature
// verifier checks; nil skips that check): the shortest proof (a leaf near
// the tree's right edge has few subtrees beside it), and the same bundle
// whenever it is built. It fails when the call's records are newer than
// the last checkpoint: the server signs one every 10 s.
func Evidence(dir string, q EvidenceQuery, verifier note.Verifier) (*Bundle, error) {
	files, err := logFiles(dir)
	if err != nil {
		return nil, err
	}
	cs, err := Checkpoints(dir, verifier)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("no signed checkpoint in %s yet", dir)
	}
	found, err := findCall(dir, files, q)
	if err != nil {
		return nil, err
	}
	last := int64(found[len(found)-1].Seq)
	i, _ := slices.BinarySearchFunc(cs, last, func(c Checkpoint, size int64) int { return cmp.Compare(c.Size, size) })
	if i == len(cs) {
		return nil, fmt.Errorf("the call's records (up to seq %d) are newer than the last checkpoint (size %d): try again in 10 s", last, cs[len(cs)-1].Size)
	}
	cp := cs[i]
	tree, err := openMappedHashes(dir)
	if err != nil {
		return nil, err
	}
	defer tree.Close()
	return bundleOf(dir, found, cp, tree)
}

// bundleOf proves the records found (in seq order) in the tree of
// checkpoint cp: those no other record names, in one multiproof.
func bundleOf(dir string, found []foundRecord, cp Checkpoint, tree tlog.HashReader) (*Bundle, error) {
	b := &Bundle{Format: EvidenceFormat, Checkpoint: string(cp.Note), Records: make([]string, len(found))}
	named := map[string]bool{}
	for i, r := range found {
		b.Records[i] = string(r.line[:len(r.line)-hashSuffixLen]) + "}" // the body its hash covers
		for _, h := range r.DataHashes {
			named[h] = true
		}
		named[r.DecisionHash] = true
		if r.Kind == KindDecision {
			b.CallID = r.CallID
			text, err := os.ReadFile(filepath.Join(dir, PoliciesDir, r.PolicySHA256+".yaml"))
			switch {
			case err == nil:
				b.Policies = map[string]string{r.PolicySHA256: string(text)}
			case !errors.Is(err, fs.ErrNotExist): // a log older than the archive of policies has none
				return nil, fmt.Errorf("the policy text of %s: %w", r.PolicySHA256, err)
			}
		}
	}
	held := make(map[string]bool, len(found))
	for _, r := range found {
		held[r.Hash] = true
	}
	for h := range named {
		if h != "" && !held[h] { // VerifyEvidence would refuse the bundle
			return nil, fmt.Errorf("the call's records name the record %s, which the log does not hold (redacted, deleted past audit.retain, or %s was altered)", h, importHashesFile)
		}
	}
	indexes := make([]int64, 0, len(found))
	for _, r := range found {
		if !named[r.Hash] {
			indexes = append(indexes, int64(r.Seq-1))
		}
	}
	var err error
	if b.Proof, err = proveLeaves(cp.Size, indexes, tree); err != nil {
		return nil, fmt.Errorf("proof of the call's records: %w", err)
	}
	return b, nil
}

// findCall reads the log once and returns, in seq order, the call's
// decision, its outcomes, the data records the decision names (by version
// in its trace, or by hash) and the earlier changes of the called number.
func findCall(dir string, files []logFile, q EvidenceQuery) ([]foundRecord, error) {
	var call, changes []foundRecord
	idNeedle := []byte(`"call_id":` + strconv.Quote(q.CallID) + `,`)
	calledNeedle := []byte(`"called":` + strconv.Quote(q.Called) + `,`)
	keep := func(line []byte) (foundRecord, bool) {
		var f foundRecord
		if json.Unmarshal(line, &f.recordFields) != nil {
			return f, false
		}
		f.line = bytes.Clone(line)
		return f, true
	}
	for _, f := range files {
		if q.CallID == "" && (f.day < dayOf(q.At.Add(-24*time.Hour)) || f.day > dayOf(q.At.Add(24*time.Hour))) {
			continue
		}
		if err := eachLine(dir, f, func(_ position, line []byte) error {
			var match bool
			switch {
			case bytes.Contains(line, []byte(`"kind":"`+KindDataChange+`"`)):
				if f, ok := keep(line); ok {
					changes = append(changes, f)
				}
				return nil
			case q.CallID != "":
				match = bytes.Contains(line, idNeedle)
			default:
				match = bytes.Contains(line, calledNeedle)
			}
			if match {
				if f, ok := keep(line); ok && (f.Kind == KindDecision || f.Kind == KindOutcome) {
					call = append(call, f)
				}
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	decision := pickDecision(call, q)
	if decision < 0 {
		return nil, ErrNoSuchCall
	}
	d := call[decision]
	out := []foundRecord{d}
	for _, r := range call[decision+1:] {
		if r.CallID == d.CallID && r.Kind == KindOutcome {
			out = append(out, r)
		} else if r.CallID == d.CallID && r.Kind == KindDecision {
			break // the same Call-ID used again: another call
		}
	}
	versions := map[uint64]bool{}
	for _, rule := range d.Trace {
		for _, c := range rule.Conditions {
			if c.Version != 0 {
				versions[c.Version] = true
			}
			for _, v := range c.Versions {
				versions[v] = true
			}
		}
	}
	for _, c := range changes {
		// A change of one number is evidence only for that number's call, and
		// all of them are: a live opt-out or consent of the called number
		// stands whether or not the list it changed was ever imported.
		v, _ := strconv.ParseUint(string(c.Version), 10, 64)
		if c.Seq < d.Seq && (c.Number == "" && (versions[v] || slices.Contains(d.DataHashes, c.Hash)) || c.Number != "" && c.Number == d.Called) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b foundRecord) int { return int(a.Seq) - int(b.Seq) })
	return out, nil
}

// pickDecision returns the index of the decision the query names: the last
// with the Call-ID, or the one closest in time to q.At.
func pickDecision(call []foundRecord, q EvidenceQuery) int {
	best := -1
	for i, r := range call {
		if r.Kind != KindDecision {
			continue
		}
		if q.CallID != "" {
			best = i
			continue
		}
		if best < 0 || absDuration(r.Time.Sub(q.At)) < absDuration(call[best].Time.Sub(q.At)) {
			best = i
		}
	}
	if best >= 0 && q.CallID == "" && absDuration(call[best].Time.Sub(q.At)) > 24*time.Hour {
		return -1
	}
	return best
}

func absDuration(d time.Duration) time.Duration { return max(d, -d) }

// mappedHashes reads the stored hashes of dir's tree file mapped into memory
// read-only, as far as the file went when it was opened (it only grows while
// a server runs). A bundle's proof reads about a hundred hashes scattered over
// the file; a pread each took 0.85 µs, most of building a bundle
// (BenchmarkEvidence/build).
type mappedHashes struct{ data []byte }

func openMappedHashes(dir string) (*mappedHashes, error) {
	f, err := os.Open(filepath.Join(dir, treeFileName))
	if err != nil {
		return nil, err
	}
	defer f.Close() // the mapping outlives the descriptor
	info, err := f.Stat()
	if err != nil || info.Size() < tlog.HashSize {
		return &mappedHashes{}, err
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(info.Size()/tlog.HashSize*tlog.HashSize), syscall.PROT_READ, syscall.MAP_SHARED)
	return &mappedHashes{data}, err
}

// ReadHashes implements tlog.HashReader.
func (m *mappedHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		if idx < 0 || idx >= int64(len(m.data)/tlog.HashSize) {
			return nil, fmt.Errorf("%s: no hash %d: the file holds %d", treeFileName, idx, len(m.data)/tlog.HashSize)
		}
		copy(out[i][:], m.data[idx*tlog.HashSize:])
	}
	return out, nil
}

func (m *mappedHashes) Close() error {
	if m.data == nil {
		return nil
	}
	return syscall.Munmap(m.data)
}

// EvidenceSummary is what VerifyEvidence proved.
type EvidenceSummary struct {
	CallID     string
	Checkpoint Checkpoint
	// Records counts the records proven, by kind.
	Records map[string]int
	// Named counts those of them proven by the record that names them
	// (data_hashes, decision_hash), not by the proof.
	Named int
	// Decision is the call's decision record, as stored.
	Decision string
}

// evidenceFile is a bundle of either format as read.
type evidenceFile struct {
	format, callID string
	checkpoint     []byte
	lines          [][]byte
	fields         []evidenceFields // of lines given as objects (format 3)
	quoted         int              // lines given as JSON strings (format 2)
	proofs         [][]tlog.Hash    // format 1: each record's own
	proof          []byte           // formats 2 and 3
	policies       map[string][]byte
}

// bundleNames are the names of a bundle's fields, in a file of any format.
var bundleNames = []string{"format", "call_id", "checkpoint", "proof", "records", "policies"}

// readBundle reads a bundle of any format in one pass with jsontext,
// without reflection: encoding/json took about four times as long, more
// than the signature check (BenchmarkEvidence/verify). Names it does not
// know are skipped; a name it knows given twice is an error. It leaves the
// check of duplicate names to itself: jsontext's (a set of every object's
// names) took a sixth of the check, most of it in the records, where a
// name twice cannot pass anyway: every record the check passes is one the
// log's writer wrote.
func readBundle(data []byte) (evidenceFile, error) {
	var b evidenceFile
	dec := jsontext.NewDecoder(bytes.NewBuffer(data), jsontext.AllowDuplicateNames(true)) // a Buffer is read in place, not copied
	if err := readDelim(dec, '{'); err != nil {
		return b, err
	}
	var seen uint8 // the bundleNames given
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return b, err
		}
		name := tok.String() // the token is void after the next read
		if i := slices.Index(bundleNames, name); i >= 0 {
			if seen&(1<<i) != 0 {
				return b, fmt.Errorf("%s given twice", name)
			}
			seen |= 1 << i
		}
		switch name {
		case "format":
			b.format, err = readString(dec)
		case "call_id":
			b.callID, err = readString(dec)
		case "checkpoint":
			b.checkpoint, err = readText(dec)
		case "proof":
			var p []byte
			if p, err = readText(dec); err == nil {
				b.proof = make([]byte, base64.StdEncoding.DecodedLen(len(p)))
				var n int
				n, err = base64.StdEncoding.Decode(b.proof, p)
				b.proof = b.proof[:n]
			}
		case "records":
			err = b.readRecords(dec, data)
		case "policies":
			b.policies = map[string][]byte{}
			if err = readDelim(dec, '{'); err != nil {
				break
			}
			for err == nil && dec.PeekKind() == '"' {
				var sum string
				var text []byte
				if sum, err = readString(dec); err == nil && b.policies[sum] != nil {
					err = fmt.Errorf("%s given twice", sum)
				}
				if err == nil {
					text, err = readText(dec)
					b.policies[sum] = text
				}
			}
			if err == nil {
				err = readDelim(dec, '}')
			}
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return b, fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := readDelim(dec, '}'); err != nil {
		return b, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return b, errors.New("more after the bundle")
	}
	if b.format == evidenceFormat1 {
		return b, b.proofRecords()
	}
	return b, nil
}

// readRecords reads the records: lines as JSON objects (format 3), as JSON
// strings (format 2), or objects of a line and its proof (format 1, told
// from format 3 once the format is known: readBundle calls proofRecords).
//
// An object's fields are read as it passes (fields), and its line is its
// bytes in data, which dec reads: one pass over the records, not two.
func (b *evidenceFile) readRecords(dec *jsontext.Decoder, data []byte) error {
	if err := readDelim(dec, '['); err != nil {
		return err
	}
	for {
		switch dec.PeekKind() {
		case '"':
			v, err := dec.ReadValue()
			if err != nil {
				return err
			}
			line, err := jsontext.AppendUnquote(make([]byte, 0, len(v)), v)
			if err != nil {
				return err
			}
			b.lines, b.fields = append(b.lines, line), append(b.fields, evidenceFields{})
			b.quoted++
		case '{':
			start := dec.InputOffset()
			f, err := readObjectFields(dec)
			if err != nil {
				return err
			}
			// What lies before the object is the comma and white space.
			b.lines = append(b.lines, bytes.TrimLeft(data[start:dec.InputOffset()], ", \t\r\n"))
			b.fields = append(b.fields, f)
		default:
			return readDelim(dec, ']')
		}
	}
}

// proofRecords reads the records of a format 1 bundle: each an object of a
// line and its proof.
func (b *evidenceFile) proofRecords() error {
	if b.quoted > 0 {
		return errors.New("records of another format")
	}
	for i, v := range b.lines {
		var r provenRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("record %d: %w", i+1, err)
		}
		b.lines[i] = []byte(r.Line)
		b.proofs = append(b.proofs, r.Proof)
	}
	return nil
}

func readDelim(dec *jsontext.Decoder, want jsontext.Kind) error {
	tok, err := dec.ReadToken()
	if err == nil && tok.Kind() != want {
		err = fmt.Errorf("%v where %v belongs", tok.Kind(), want)
	}
	return err
}

// readString reads a string value; one without escapes (every value the
// check compares, as the writer writes them) is the bytes between its
// quotes, copied once.
func readString(dec *jsontext.Decoder) (string, error) {
	v, err := readStringValue(dec)
	if err != nil || bytes.IndexByte(v, '\\') >= 0 {
		text, err := unquote(v, err)
		return string(text), err
	}
	return string(v[1 : len(v)-1]), nil
}

// readText reads a string value, unquoted into a slice of its size.
func readText(dec *jsontext.Decoder) ([]byte, error) {
	return unquote(readStringValue(dec))
}

func unquote(v jsontext.Value, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return jsontext.AppendUnquote(make([]byte, 0, len(v)), v)
}

// readStringValue reads a string value as it stands, quoted (valid: the
// decoder checked it).
func readStringValue(dec *jsontext.Decoder) (jsontext.Value, error) {
	v, err := dec.ReadValue()
	if err == nil && v.Kind() != '"' {
		err = fmt.Errorf("%v where a string belongs", v.Kind())
	}
	return v, err
}

// evidenceFields are the fields of a record the check reads.
type evidenceFields struct {
	seq                                        uint64
	redacted                                   bool // a redaction's stub
	kind, callID, called, number, policySHA256 string
	// names are the leaf hashes (hex) the record names: a decision's
	// data_hashes, an outcome's decision_hash.
	names []string
}

// readFields reads the record's top-level fields the check needs, skipping
// the others (a decision's trace) unread. It compares names as written: the
// writer writes them without escapes, and the hash proves it wrote them.
func readFields(dec *jsontext.Decoder, line []byte) (evidenceFields, error) {
	dec.Reset(bytes.NewBuffer(line), jsontext.AllowDuplicateNames(true)) // as readBundle
	return readObjectFields(dec)
}

// readObjectFields is readFields of the object dec reads next.
func readObjectFields(dec *jsontext.Decoder) (evidenceFields, error) {
	var f evidenceFields
	if err := readDelim(dec, '{'); err != nil {
		return f, err
	}
	for dec.PeekKind() == '"' {
		name, err := dec.ReadValue()
		if err != nil {
			return f, err
		}
		var field *string
		switch string(name) { // no allocation; name is void after the next read
		case `"kind"`:
			field = &f.kind
		case `"call_id"`:
			field = &f.callID
		case `"called"`:
			field = &f.called
		case `"number"`:
			field = &f.number
		case `"policy_sha256"`:
			field = &f.policySHA256
		case `"seq"`:
			v, err := dec.ReadValue()
			if err == nil {
				f.seq, err = strconv.ParseUint(string(v), 10, 64)
			}
			if err != nil {
				return f, fmt.Errorf("seq: %w", err)
			}
			continue
		case `"redacted"`:
			f.redacted = true
			if err := dec.SkipValue(); err != nil {
				return f, err
			}
			continue
		case `"decision_hash"`:
			f.names = append(f.names, "")
			field = &f.names[len(f.names)-1]
		case `"data_hashes"`:
			if err := readDelim(dec, '['); err != nil {
				return f, err
			}
			for dec.PeekKind() == '"' {
				h, err := readString(dec)
				if err != nil {
					return f, err
				}
				f.names = append(f.names, h)
			}
			if err := readDelim(dec, ']'); err != nil {
				return f, err
			}
			continue
		default:
			if err := dec.SkipValue(); err != nil {
				return f, err
			}
			continue
		}
		if *field, err = readString(dec); err != nil {
			return f, err
		}
	}
	return f, readDelim(dec, '}')
}

// withHashField is the line of the log whose hash field covers body (a
// record without its hash field, as format 3 holds it), and its leaf hash;
// body as it is when it does not end with '}'.
func withHashField(body []byte) ([]byte, tlog.Hash) {
	n := len(body)
	if n == 0 || body[n-1] != '}' {
		return body, tlog.Hash{}
	}
	var lh leafHasher
	leaf := lh.leaf(body[:n-1])
	return storedLine(body, leaf), leaf
}

// storedLine is the line of the log of body (ending with '}') whose leaf
// hash is leaf.
func storedLine(body []byte, leaf tlog.Hash) []byte {
	h := hexHash(leaf)
	return slices.Concat(body[:len(body)-1], []byte(hashField), h[:], []byte(`"}`))
}

// record reads the i-th record of b: its seq, leaf hash and fields. A
// record of format 3 is the body its hash covers, its fields read with the
// bundle; one of formats 1 and 2 is the line as stored, whose hash field
// must be its leaf hash.
func (b *evidenceFile) record(i int, dec *jsontext.Decoder, lh *leafHasher) (uint64, tlog.Hash, evidenceFields, error) {
	line := b.lines[i]
	if b.format == EvidenceFormat {
		f, n := b.fields[i], len(line)
		if n == 0 || line[n-1] != '}' || f.seq == 0 || f.redacted {
			return 0, tlog.Hash{}, f, fmt.Errorf("record %d: not a record", i+1)
		}
		return f.seq, lh.leaf(line[:n-1]), f, nil
	}
	l, err := parseLine(line)
	if err != nil || l.redacted {
		return 0, tlog.Hash{}, evidenceFields{}, fmt.Errorf("record %d: not a record: %v", i+1, err)
	}
	leaf := lh.leaf(l.record)
	if h := hexHash(leaf); !bytes.Equal(h[:], l.hash) {
		return 0, leaf, evidenceFields{}, fmt.Errorf("record %d (seq %d): the hash does not match the record: it was altered", i+1, l.seq)
	}
	f, err := readFields(dec, line)
	if err != nil {
		return 0, leaf, f, fmt.Errorf("record %d (seq %d): %w", i+1, l.seq, err)
	}
	return l.seq, leaf, f, nil
}

// nameOf is a leaf hash (hex) that record (its index in the bundle) of
// seq names.
type nameOf struct {
	record int
	seq    uint64
	hash   string
}

// VerifyEvidence checks a bundle offline with the log's public key alone:
// the checkpoint's signature; for every record, that its hash is its leaf
// hash (SHA-256 of 0x00 and the line without its hash field); that the
// proof and the leaves of the records no other record names give the
// checkpoint's root (formats 2 and 3: one multiproof, rootOf; format 1: one
// RFC 6962 §2.1.1 inclusion proof each), a record named (data_hashes,
// decision_hash) being proven by the record that names it, which the bundle
// must hold; that the
// decision and outcomes are one call (the bundle's call_id, where it says
// one: formats 1 and 2) and name one called number;
// and that every policy text hashes to the SHA-256 it is filed under, the
// decision's among them.
func VerifyEvidence(data []byte, verifier note.Verifier) (EvidenceSummary, error) {
	var s EvidenceSummary
	b, err := readBundle(data)
	if err != nil {
		return s, fmt.Errorf("not an evidence bundle: %w", err)
	}
	switch {
	case b.format == evidenceFormat1:
	case b.format == evidenceFormat2 && b.quoted == len(b.lines), b.format == EvidenceFormat && b.quoted == 0:
	case b.format == evidenceFormat2 || b.format == EvidenceFormat:
		err = errors.New("records of another format")
	default:
		err = fmt.Errorf("format %q, want %q", b.format, EvidenceFormat)
	}
	if err != nil {
		return s, err
	}
	if verifier == nil {
		return s, errors.New("a public key is needed to check the checkpoint")
	}
	cp, err := OpenCheckpoint(b.checkpoint, verifier)
	if err != nil {
		return s, err
	}
	s.Checkpoint, s.Records = cp, map[string]int{}
	dec := jsontext.NewDecoder(new(bytes.Buffer))
	seqs, leaves := make([]int64, len(b.lines)), make([]tlog.Hash, len(b.lines))
	named := map[[hashHexLen]byte]bool{}
	var names []nameOf // in the order named
	decisions, called := 0, ""
	var policy string
	var lh leafHasher
	for i, line := range b.lines {
		seq, leaf, f, err := b.record(i, dec, &lh)
		if err != nil {
			return s, err
		}
		if seq == 0 || int64(seq) > cp.Size || i > 0 && int64(seq-1) <= seqs[i-1] {
			return s, fmt.Errorf("record %d (seq %d): not in the checkpoint's tree of %d records after the one before it", i+1, seq, cp.Size)
		}
		seqs[i], leaves[i] = int64(seq-1), leaf
		if b.proofs != nil {
			if err := tlog.CheckRecord(b.proofs[i], cp.Size, cp.Root, seqs[i], leaf); err != nil {
				return s, fmt.Errorf("record %d (seq %d): not in the checkpoint's tree: %w", i+1, seq, err)
			}
		}
		for _, h := range f.names {
			if len(h) == hashHexLen {
				named[[hashHexLen]byte([]byte(h))] = true
				names = append(names, nameOf{i, seq, h})
			}
		}
		s.Records[f.kind]++
		switch f.kind {
		case KindDecision, KindOutcome:
			if b.callID == "" && b.format == EvidenceFormat { // the call is its decision's, which comes first
				b.callID = f.callID
			}
			if f.callID != b.callID {
				return s, fmt.Errorf("record %d (seq %d): call %q, not the bundle's %q", i+1, seq, f.callID, b.callID)
			}
			if f.kind == KindDecision {
				if b.format == EvidenceFormat {
					line = storedLine(line, leaf) // as stored
				}
				decisions++
				policy, s.Decision = f.policySHA256, string(line)
			}
		}
		for _, n := range []string{f.called, f.number} {
			if n != "" && called != "" && n != called {
				return s, fmt.Errorf("record %d (seq %d) names %s besides %s: a bundle holds one called number", i+1, seq, n, called)
			}
			if n != "" {
				called = n
			}
		}
	}
	if b.proofs == nil {
		// A record another names is proven with it: its leaf hash is in the
		// naming record's body. Names point back (a record names hashes that
		// existed when it was written), so every chain of names ends in a
		// record proven in the tree.
		indexes, proven := seqs[:0:0], leaves[:0:0]
		for i, leaf := range leaves {
			if !named[hexHash(leaf)] {
				indexes, proven = append(indexes, seqs[i]), append(proven, leaf)
			}
		}
		s.Named = len(leaves) - len(proven)
		root, err := rootOf(cp.Size, indexes, proven, b.proof)
		if err != nil || root != cp.Root {
			return s, fmt.Errorf("the records are not in the checkpoint's tree: %v", cmp.Or(err, errors.New("the proof leads to another root")))
		}
		// A bundle holds every record its records name (a decision's
		// imports, an outcome's decision): without one, the call is proven
		// but not the data it was decided on.
		for _, n := range names {
			if !slices.ContainsFunc(leaves, func(l tlog.Hash) bool { return hexHash(l) == [hashHexLen]byte([]byte(n.hash)) }) {
				return s, fmt.Errorf("record %d (seq %d) names the record %s, which the bundle does not hold", n.record+1, n.seq, n.hash)
			}
		}
	}
	if decisions != 1 {
		return s, fmt.Errorf("the bundle holds %d decisions, not one", decisions)
	}
	s.CallID = b.callID
	for sum, text := range b.policies {
		got := sha256.Sum256(text)
		if hex.EncodeToString(got[:]) != sum {
			return s, fmt.Errorf("the policy text filed as %s hashes to %x", sum, got)
		}
	}
	if _, ok := b.policies[policy]; !ok && len(b.policies) > 0 {
		return s, fmt.Errorf("the bundle's policy texts do not include the decision's policy %s", policy)
	}
	return s, nil
}
