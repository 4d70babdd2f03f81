package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Verify reads every decision file in dir, oldest first, and checks that seq
// counts up by one and that each record's hash covers it and the record
// before it. It returns the number of records checked; an error names the
// FILE:LINE of the first break. It fails with ErrNoFiles when dir holds no
// decision file.
//
// The chain starts at the first record found: files older than the retention
// period may have been deleted. A line that is not a record passes only where
// the chain continues across it: that is a write cut short by a crash. A
// hash chain cannot show records cut off after the last one; compare the last
// seq and hash with an anchor kept elsewhere (docs/audit.md).
func Verify(dir string) (int, error) {
	days, err := dayFiles(dir)
	if err != nil {
		return 0, err
	}
	if len(days) == 0 {
		return 0, fmt.Errorf("%w in %s", ErrNoFiles, dir)
	}
	var v verifier
	for _, day := range days {
		if err := v.file(filepath.Join(dir, fileName(day))); err != nil {
			return v.records, err
		}
	}
	return v.records, nil
}

type verifier struct {
	records int
	last    link
	lastAt  string // FILE:LINE of last
	// notRecord describes a line that is not a record, until a record shows
	// whether the chain continues across it.
	notRecord string
	scratch   []byte // holds the body of the line being checked
	hashing   []byte
	long      []byte
}

func (v *verifier) file(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, err := v.readLine(r)
		if len(line) > 0 && line[len(line)-1] == '\n' {
			line = line[:len(line)-1]
		}
		if err == io.EOF && len(line) == 0 {
			return nil
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("%s:%d: %w", path, lineNo, err)
		}
		if err := v.line(fmt.Sprintf("%s:%d", path, lineNo), line); err != nil {
			return err
		}
	}
}

// readLine returns the next line with its newline, however long it is.
func (v *verifier) readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	v.long = append(v.long[:0], line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		line, err = r.ReadSlice('\n')
		v.long = append(v.long, line...)
	}
	return v.long, err
}

func (v *verifier) line(at string, line []byte) error {
	l, err := parseLine(line, &v.scratch)
	if err != nil {
		if v.notRecord == "" {
			v.notRecord = fmt.Sprintf("%s: not a complete record: %v", at, err)
		}
		return nil
	}
	if err := v.link(at, l); err != nil {
		if v.notRecord != "" {
			return fmt.Errorf("%s; the chain does not continue across it: %w", v.notRecord, err)
		}
		return err
	}
	v.records++
	v.last, v.lastAt, v.notRecord = l, at, ""
	v.last.body = nil // it aliases scratch
	return nil
}

func (v *verifier) link(at string, l link) error {
	if h := chainHash(&v.hashing, l.prev, l.body); string(h[:]) != l.hash {
		return fmt.Errorf("%s: the hash does not match the record: it was altered", at)
	}
	switch {
	case v.lastAt != "" && l.seq != v.last.seq+1:
		return fmt.Errorf("%s: seq %d follows seq %d at %s: records are missing or were altered", at, l.seq, v.last.seq, v.lastAt)
	case v.lastAt != "" && l.prev != v.last.hash:
		return fmt.Errorf("%s: prev is not the hash of the record at %s: a record was replaced", at, v.lastAt)
	case l.seq == 0:
		return fmt.Errorf("%s: seq 0: records count from 1", at)
	case (l.seq == 1) != (l.prev == ""):
		return fmt.Errorf("%s: seq %d with prev %q: only record 1 has no prev", at, l.seq, l.prev)
	case v.lastAt == "" && v.notRecord != "" && l.seq != 1:
		return fmt.Errorf("%s: the first record found is seq %d, not 1", at, l.seq)
	}
	return nil
}
