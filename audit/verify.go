package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"syscall"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// VerifyOptions say what Verify checks besides the records themselves.
type VerifyOptions struct {
	// Verifier is the log's public key (LoadVerifier): every checkpoint's
	// signature must verify with it. Nil checks checkpoints' roots only.
	Verifier note.Verifier
	// Since is a signed checkpoint exported earlier (Checkpoint.Note): Verify
	// proves that the log only grew since (RFC 6962 §2.1.2 consistency).
	Since []byte
}

// Report is what Verify found.
type Report struct {
	// Records is the number of records read; Redacted of them are stubs.
	Records, Redacted int
	// Size and Root are the tree of all records (Size is the last seq).
	Size int64
	Root tlog.Hash
	// Checkpoints counts the log's checkpoints whose root matched.
	Checkpoints int
	// Signed is true when their signatures were checked with a key.
	Signed bool
	// Since is the checkpoint of VerifyOptions.Since, proven consistent.
	Since *Checkpoint
	// Untreed counts the last records not yet in the tree file (a running
	// server writes the tree after the records).
	Untreed int64
	// Unfinished, when not empty, says that the log ends with a line that
	// is not a record ("FILE:LINE: not a complete record: ..."): a write
	// under way or cut short by a crash, which the server seals at its next
	// start, or a line added by hand. No record follows it to prove it.
	Unfinished string
}

// Verify reads every decision file in dir, oldest first, and checks each
// record: its hash is its RFC 6962 leaf hash (SHA-256 of 0x00 and the line
// without its hash field), seq counts up by one, prev (in records of builds
// up to 2026-11-29) is the hash of the record before, and the tree file holds
// that hash as leaf seq-1. It
// recomputes the tree's root at the size of every checkpoint in dir (and of
// opts.Since) and compares. An error names the FILE:LINE of the first bad
// record and what differs; the Report counts what was checked until then.
//
// The chain starts at the first record found: files older than the retention
// period may have been deleted, and the tree file vouches for them.
func Verify(dir string, opts VerifyOptions) (Report, error) {
	var v verifier
	v.lines.size = verifyReadSize
	files, err := logFiles(dir)
	if err != nil {
		return v.report, err
	}
	if len(files) == 0 {
		return v.report, fmt.Errorf("%w in %s", ErrNoFiles, dir)
	}
	if v.checkpoints, err = Checkpoints(dir, opts.Verifier); err != nil {
		return v.report, err
	}
	v.report.Signed = opts.Verifier != nil && len(v.checkpoints) > 0
	if opts.Since != nil {
		since, err := OpenCheckpoint(opts.Since, opts.Verifier)
		if err != nil {
			return v.report, fmt.Errorf("--since: %w", err)
		}
		v.since = &since
		v.checkpoints = append(v.checkpoints, since)
	}
	slices.SortStableFunc(v.checkpoints, func(a, b Checkpoint) int { return int(a.Size - b.Size) })
	if f, err := os.Open(filepath.Join(dir, treeFileName)); err == nil {
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return v.report, err
		}
		// Its size is taken before the records are read, so that a running
		// server's later writes look like a lagging tree, never like extra hashes.
		v.tree = &hashFile{f: f, count: info.Size() / tlog.HashSize}
	}
	for _, f := range files {
		if err := v.file(dir, f); err != nil {
			return v.report, err
		}
	}
	return v.report, v.end()
}

// verifyReadSize is how much Verify reads at a time: with 1 MiB reads the
// lines are checked where they lie, and the reads cost less per record
// than with 64 KiB (BenchmarkVerify).
const verifyReadSize = 1 << 20

type verifier struct {
	report Report
	// last is the seq and hash of the record before, lastAt its position
	// (path empty before the first record).
	lastSeq  uint64
	lastHash []byte
	lastAt   position
	// notRecord describes a line that is not a record, until a record shows
	// whether the chain continues across it.
	notRecord string
	hasher    leafHasher
	lines     lineReader

	frontier    frontier
	stored      []tlog.Hash
	tree        *hashFile     // nil when the folder has no tree file
	treeStream  *bufio.Reader // the tree file from the first record's hashes on
	treeAt      int64         // index of the next hash treeStream gives
	checkpoints []Checkpoint  // by size; those passed are dropped
	since       *Checkpoint
}

func (v *verifier) file(dir string, f logFile) error {
	r, err := openLogFile(dir, f)
	if err != nil {
		return err
	}
	defer r.Close()
	path := f.path(dir)
	if plain, ok := r.(*os.File); ok {
		if data, err := mapFile(plain); err == nil {
			defer syscall.Munmap(data)
			return v.mapped(path, data)
		}
	}
	v.lines.reset(r)
	for lineNo := 1; ; lineNo++ {
		line, err := v.lines.next()
		if err == io.EOF && len(line) == 0 {
			return nil
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("%s:%d: %w", path, lineNo, err)
		}
		if err := v.line(position{path, lineNo}, line); err != nil {
			return err
		}
	}
}

// mapped checks the lines of a plain file mapped into memory, where they
// lie: reading the file would copy every byte once more before the hash
// reads it, ≈ 8 % of verify's CPU for a day's records (BenchmarkVerify/day,
// 2026-11-29, load 9: 1,122–1,162 → 1,033–1,046 ns a record; SHA-256 is
// ≈ 80 % of what is left). A file cut shorter while it is read (it never is by the
// gatekeeper, which only appends) gives an error, not a crash.
func (v *verifier) mapped(path string, data []byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: the file shrank while it was read: %v", path, r)
		}
	}()
	for lineNo := 1; len(data) > 0; lineNo++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if err := v.line(position{path, lineNo}, line); err != nil {
			return err
		}
	}
	return nil
}

// mapFile maps a file into memory, read only, to be read once from start to end.
func mapFile(f *os.File) ([]byte, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.Size() == 0 || info.Size() != int64(int(info.Size())) {
		return nil, errors.New("nothing to map")
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(info.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err == nil {
		_ = syscall.Madvise(data, syscall.MADV_SEQUENTIAL) // advice only
	}
	return data, err
}

func (v *verifier) line(at position, line []byte) error {
	l, err := parseLink(line)
	var leaf tlog.Hash
	intact := false
	if err == nil && !l.redacted {
		// Compared in hex, as written: the line's hash is not decoded.
		leaf = v.hasher.leaf(l.record)
		h := hexHash(leaf)
		intact = bytes.Equal(h[:], l.hash)
	}
	if err == nil && !intact && !isLowerHex(l.hash) {
		err = errHashNotHex
	}
	if err != nil {
		if v.notRecord == "" {
			v.notRecord = at.errorf("not a complete record: %v", err).Error()
		}
		return nil
	}
	leaf, err = v.link(at, l, leaf, intact)
	if err != nil {
		if v.notRecord != "" {
			return fmt.Errorf("%s; the chain does not continue across it: %w", v.notRecord, err)
		}
		return err
	}
	if err := v.grow(at, l, leaf); err != nil {
		return err
	}
	v.report.Records++
	if l.redacted {
		v.report.Redacted++
	}
	v.lastSeq, v.lastHash, v.lastAt, v.notRecord = l.seq, append(v.lastHash[:0], l.hash...), at, ""
	return nil
}

// link checks the record's hash (intact: the line's hash is leaf, the one
// computed from it) and its place in the chain, and returns its leaf hash:
// leaf, or a redacted record's kept hash.
func (v *verifier) link(at position, l link, leaf tlog.Hash, intact bool) (tlog.Hash, error) {
	first := v.lastAt.path == ""
	if l.redacted {
		leaf, _ = parseHexHash(l.hash) // line checked the hex
	} else if !intact {
		return leaf, at.errorf("the hash does not match the record: it was altered")
	}
	switch {
	case !first && l.seq != v.lastSeq+1:
		return leaf, at.errorf("seq %d follows seq %d at %s: records are missing or were altered", l.seq, v.lastSeq, v.lastAt)
	case !first && len(l.prev) > 0 && !bytes.Equal(l.prev, v.lastHash):
		return leaf, at.errorf("prev is not the hash of the record at %s: a record was replaced", v.lastAt)
	case l.seq == 0:
		return leaf, at.errorf("seq 0: records count from 1")
	case l.seq == 1 && len(l.prev) > 0:
		return leaf, at.errorf("seq 1 with prev %q: record 1 has no record before it", l.prev)
	case first && v.notRecord != "" && l.seq != 1:
		return leaf, at.errorf("the first record found is seq %d, not 1", l.seq)
	}
	return leaf, nil
}

// grow adds the record's leaf to the recomputed tree, compares the hashes
// this stores with the tree file's, and the root with any checkpoint of
// this size.
func (v *verifier) grow(at position, l link, leaf tlog.Hash) error {
	if v.lastAt.path == "" {
		if err := v.start(l.seq); err != nil {
			return at.errorf("%w", err)
		}
	}
	v.stored = v.frontier.add(leaf, v.stored[:0])
	if v.treeStream != nil {
		// The leaf's hashes lie in a row in the file: one look at them all,
		// where a copy of each cost ≈ 30 ns a record (BenchmarkVerify/day,
		// 2026-11-29, alternating at load 1.3: 974–986 → 939–956 ns).
		n := int(min(int64(len(v.stored)), v.tree.count-v.treeAt))
		got, err := v.treeStream.Peek(n * tlog.HashSize)
		if err != nil {
			return at.errorf("reading %s: %w", treeFileName, err)
		}
		for i, want := range v.stored[:n] {
			if tlog.Hash(got[i*tlog.HashSize:]) != want {
				what := "its leaf"
				if i > 0 {
					what = "a subtree ending at it"
				}
				return at.errorf("seq %d: %s holds another hash for %s: the record or the tree was altered after it was written",
					l.seq, treeFileName, what)
			}
		}
		v.treeStream.Discard(len(got))
		v.treeAt += int64(n)
		if n < len(v.stored) {
			v.report.Untreed++
		}
	}
	for len(v.checkpoints) > 0 && v.checkpoints[0].Size <= v.frontier.n {
		c := v.checkpoints[0]
		v.checkpoints = v.checkpoints[1:]
		if c.Size < v.frontier.n {
			continue // before the first record found: vouched for by the tree file only
		}
		if v.frontier.root() != c.Root {
			return at.errorf("seq %d: the tree's root differs from the checkpoint signed at %s for this size: records up to here were altered, removed or inserted",
				l.seq, c.Time.Format("2006-01-02T15:04:05Z"))
		}
		if v.since != nil && c.Size == v.since.Size && c.Root == v.since.Root {
			v.report.Since = &c
		} else {
			v.report.Checkpoints++
		}
	}
	return nil
}

// start sets the tree up for the first record found: from nothing for seq 1,
// else from the tree file's hashes of the records before it.
func (v *verifier) start(seq uint64) error {
	if seq > 1 {
		if v.tree == nil {
			return fmt.Errorf("the log starts at seq %d and there is no %s to vouch for the records before it", seq, treeFileName)
		}
		var err error
		if v.frontier, err = frontierAt(int64(seq-1), v.tree); err != nil {
			return err
		}
	}
	if v.tree != nil {
		v.treeAt = tlog.StoredHashIndex(0, int64(seq-1))
		if v.treeAt > v.tree.count {
			v.treeAt = v.tree.count
		}
		v.treeStream = bufio.NewReaderSize(io.NewSectionReader(v.tree.f, v.treeAt*tlog.HashSize, (v.tree.count-v.treeAt)*tlog.HashSize), 64<<10)
	}
	return nil
}

// end checks what only the whole log shows: records cut off after the last.
func (v *verifier) end() error {
	v.report.Size, v.report.Root, v.report.Unfinished = v.frontier.n, v.frontier.root(), v.notRecord
	last := v.lastAt.String()
	if v.lastAt.path == "" {
		last = "no record in the files"
	}
	if v.tree != nil && v.treeAt < v.tree.count {
		return fmt.Errorf("%s: %s holds hashes of records after seq %d: records after it were removed",
			last, treeFileName, v.frontier.n)
	}
	if len(v.checkpoints) > 0 {
		c := v.checkpoints[len(v.checkpoints)-1]
		return fmt.Errorf("%s: the checkpoint signed at %s covers %d records, the log holds %d: records after seq %d were removed",
			last, c.Time.Format("2006-01-02T15:04:05Z"), c.Size, v.frontier.n, v.frontier.n)
	}
	if v.since != nil && v.report.Since == nil {
		return errors.New("--since: the checkpoint's size was not reached")
	}
	if v.since != nil && v.tree != nil {
		// The same fact as a proof an outsider can check with the two roots.
		proof, err := tlog.ProveTree(v.frontier.n, v.since.Size, v.tree)
		if err == nil {
			err = tlog.CheckTree(proof, v.frontier.n, v.report.Root, v.since.Size, v.since.Root)
		}
		if err != nil && v.report.Untreed == 0 {
			return fmt.Errorf("--since: consistency proof: %w", err)
		}
	}
	return nil
}
