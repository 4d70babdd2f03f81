package audit

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// resume finds where the chain goes on: the last complete record of the
// newest file that has one (seq 0 and no hash for a new log).
//
// A crash can cut the last write short. The line it leaves has no newline:
// if it still parses as a record, only its newline is missing and it gets
// one; otherwise it is sealed with a newline, so that the next record starts
// on a line of its own, and reported. No byte is ever removed: the files may
// carry the append-only attribute (chattr +a). Verify passes over such a line
// because the chain continues across it. What was repaired is returned (nil
// when nothing was), for the recovery record.
func resume(dir string, files []logFile, logger *slog.Logger) (seq uint64, hash string, _ *Recovery, err error) {
	for i := len(files) - 1; i >= 0; i-- {
		var last link
		var found bool
		var repaired *Recovery
		if files[i].gz { // complete when compressed: nothing to repair
			last, found, err = lastCompressed(dir, files[i])
		} else {
			last, found, repaired, err = lastLink(files[i].path(dir), logger)
		}
		if err != nil || found {
			return last.seq, string(last.hash), repaired, err
		}
	}
	return 0, "", nil, nil
}

// lastCompressed returns the last record of a compressed file.
func lastCompressed(dir string, f logFile) (last link, found bool, err error) {
	var lastLine []byte
	err = eachLine(dir, f, func(_ position, line []byte) error {
		if _, err := parseLine(line); err == nil {
			lastLine = append(lastLine[:0], line...)
		}
		return nil
	})
	if err != nil || lastLine == nil {
		return link{}, false, err
	}
	last, err = parseLine(lastLine)
	return last, err == nil, err
}

// lastLink returns the last complete record of a file, repairing a line cut
// short as resume describes.
func lastLink(path string, logger *slog.Logger) (link, bool, *Recovery, error) {
	f, err := os.Open(path)
	if err != nil {
		return link{}, false, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return link{}, false, nil, err
	}
	lines := backLines{f: f, off: info.Size()}
	tail, _, err := lines.prev() // the bytes after the last newline
	if err != nil || len(tail) == 0 {
		last, found, err := lastComplete(&lines, err)
		return last, found, nil, err
	}
	lineNo, err := countLines(f)
	if err != nil {
		return link{}, false, nil, err
	}
	repaired := &Recovery{File: filepath.Base(path), Line: lineNo + 1, Bytes: len(tail)}
	if last, err := parseLine(tail); err == nil {
		logger.Warn("audit: a crash cut off the newline of the last record; adding it", "file", path, "seq", last.seq)
		repaired.Repair = RepairNewline
		return last, true, repaired, appendNewline(path)
	}
	logger.Warn("audit: a crash cut the last write short; sealing the broken line, the chain goes on from the last complete record",
		"file", path, "line", lineNo+1, "bytes", len(tail))
	repaired.Repair = RepairSealed
	if err := appendNewline(path); err != nil {
		return link{}, false, nil, err
	}
	last, found, err := lastComplete(&lines, nil)
	return last, found, repaired, err
}

// lastComplete walks back over lines that are not records (lines sealed by
// an earlier start) to the last record.
func lastComplete(lines *backLines, err error) (link, bool, error) {
	for err == nil {
		var line []byte
		var ok bool
		if line, ok, err = lines.prev(); !ok {
			break
		}
		if last, perr := parseLine(line); perr == nil {
			return last, true, nil
		}
	}
	return link{}, false, err
}

func appendNewline(path string) error {
	return writeSynced(path, os.O_APPEND, 0, []byte{'\n'})
}

func countLines(f *os.File) (int, error) {
	buf := make([]byte, 64<<10)
	n := 0
	for off := int64(0); ; {
		k, err := f.ReadAt(buf, off)
		n += bytes.Count(buf[:k], []byte{'\n'})
		off += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// backLines reads a file's lines from the last to the first, so that opening
// a day file of gigabytes reads only its end.
type backLines struct {
	f   *os.File
	off int64  // file offset of buf[0]
	buf []byte // the part of the file before the lines already returned
	eof bool   // the first line has been returned
}

// prev returns the line before those returned so far, without its newline;
// the first call returns what follows the last newline (empty when the file
// ends with one). The slice is valid until the next call.
func (b *backLines) prev() ([]byte, bool, error) {
	const chunk = 64 << 10
	for !b.eof {
		if i := bytes.LastIndexByte(b.buf, '\n'); i >= 0 {
			line := b.buf[i+1:]
			b.buf = b.buf[:i]
			return line, true, nil
		}
		if b.off == 0 {
			b.eof = true
			return b.buf, true, nil
		}
		n := min(chunk, b.off)
		b.off -= n
		grown := make([]byte, int(n)+len(b.buf))
		if _, err := b.f.ReadAt(grown[:n], b.off); err != nil {
			return nil, false, err
		}
		copy(grown[n:], b.buf)
		b.buf = grown
	}
	return nil, false, nil
}
