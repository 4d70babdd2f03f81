package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Redact replaces record seq by a stub that keeps only its seq and hash
// (and the prev of a record written by a build up to 2026-11-29), with why
// it was removed (a court order, a privacy request):
//
//	{"seq":N,"redacted":"<why>","hash":"<hash>"}
//
// The record and its salt are gone, so its content cannot be recovered from
// its hash, while seq, the tree and every checkpoint and every other
// record's proof still verify. The file is rewritten through a new file
// and a rename (compressed again if it was). The file a running server
// appends to cannot be redacted until it is complete (the day is over).
func Redact(dir string, seq uint64, why string) error {
	files, err := logFiles(dir)
	if err != nil {
		return err
	}
	for i, f := range files {
		data, err := readLogFile(dir, f)
		if err != nil {
			return err
		}
		path := f.path(dir)
		lines := bytes.SplitAfter(data, []byte{'\n'})
		for n, line := range lines {
			l, err := parseLine(bytes.TrimSuffix(line, []byte{'\n'}))
			if err != nil || l.seq != seq {
				continue
			}
			if l.redacted {
				return nil
			}
			if i == len(files)-1 {
				lock, err := lockDir(dir)
				if err != nil {
					return fmt.Errorf("%s is the file a running server appends to: redact after the day is over: %w", path, err)
				}
				defer lock.Close()
			}
			stub := fmt.Appendf(nil, `{"seq":%d,"redacted":%s`, seq, appendString(nil, why))
			if len(l.prev) > 0 { // a record of a build up to 2026-11-29 keeps its chain
				stub = fmt.Appendf(stub, `,"prev":"%s"`, l.prev)
			}
			stub = fmt.Appendf(stub, `,"hash":"%s"}`+"\n", l.hash)
			lines[n] = stub
			data = bytes.Join(lines, nil)
			if f.gz {
				if data, err = compress(data); err != nil {
					return err
				}
			}
			if err := replaceFile(path, data); err != nil {
				return err
			}
			// The index's blocks moved: a query rebuilds it.
			if err := os.Remove(indexPath(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return nil
		}
	}
	return fmt.Errorf("%w: %d", ErrNoSuchRecord, seq)
}

func readLogFile(dir string, f logFile) ([]byte, error) {
	r, err := openLogFile(dir, f)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// compress writes data as compressFile does: gzip members the index can
// start reading at.
func compress(data []byte) ([]byte, error) {
	var out bytes.Buffer
	err := compressMembers(&out, bytes.NewReader(data))
	return out.Bytes(), err
}

// replaceFile writes data to path through a new file, fsync and rename, so
// that a crash leaves either the old or the new file whole.
func replaceFile(path string, data []byte) error {
	tmp := path + ".redacting"
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	os.Remove(tmp)
	if err := writeNewFile(tmp, data, info.Mode().Perm()); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return syncDir(filepath.Dir(path))
}
