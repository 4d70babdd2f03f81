package audit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
)

// eachCandidate calls fn with every line of the log that may hold a call q
// selects or its outcome, in order, until fn returns false or past says a
// file's day is past what q needs. Files older than q.Since's day are
// skipped: a record goes into a file of its own day or a later one, never
// an earlier one. A query for a Call-ID or a number looks it up in the
// index of each complete file, and searches the writer's file, the newest,
// for the bytes of its field.
func eachCandidate(dir string, q Query, past func(day int) bool, fn func(line []byte) bool) error {
	files, err := logFiles(dir)
	if err != nil {
		return err
	}
	field, value := "call_id", q.CallID
	if value == "" {
		field, value = "called", q.Called
	}
	var needle []byte
	if value != "" {
		needle = appendField(nil, field, value)[1:]
	}
	for i, f := range files {
		if !q.Since.IsZero() && f.day < dayOf(q.Since) {
			continue
		}
		if past(f.day) {
			return nil
		}
		switch {
		case needle == nil:
			err = eachLine(dir, f, func(_ position, line []byte) error {
				if !fn(line) {
					return errStop
				}
				return nil
			})
		case i == len(files)-1:
			err = scanFile(dir, f, needle, fn)
		default:
			err = lookup(dir, f, field, needle, fn)
			if errors.Is(err, fs.ErrNotExist) && !f.gz {
				// Compressed since it was listed: its lines are the same.
				err = lookup(dir, logFile{day: f.day, part: f.part, gz: true}, field, needle, fn)
			}
		}
		if err == errStop {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// lookup calls fn with the lines of a complete file that hold needle, the
// field and value the index has the key of.
func lookup(dir string, f logFile, field string, needle []byte, fn func(line []byte) bool) error {
	ix, f, err := indexOf(context.Background(), dir, f, nil)
	if err != nil {
		return err
	}
	defer ix.Close()
	value := needle[len(field)+4 : len(needle)-1] // "field":"value"
	blocks, err := ix.blocksOf(indexKey(field, value))
	if err != nil || len(blocks) == 0 {
		return err
	}
	return ix.readBlocks(dir, f, blocks, func(line []byte) bool {
		return !bytes.Contains(line, needle) || fn(line)
	})
}

// rareOffset is where in needle bytes.Index should start looking: at a
// '+' (a number) or '@' (a Call-ID), which are rare in records, where the
// quotes and letters before them are everywhere. Its first byte is what
// bytes.Index looks for first: from the '+' of a number it reads a GB in
// ≈ 40 ms, from the field's opening quote in ≈ 800 ms.
func rareOffset(needle []byte) int {
	return max(bytes.IndexAny(needle, "+@"), 0)
}

// scanFile calls fn with the lines of a file that hold needle, found by
// bytes.Index over large reads rather than line by line.
func scanFile(dir string, f logFile, needle []byte, fn func(line []byte) bool) error {
	anchor := rareOffset(needle)
	r, err := openLogFile(dir, f)
	if err != nil {
		return err
	}
	defer r.Close()
	buf := make([]byte, 0, 4<<20)
	for {
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		data := buf[:len(buf)+n]
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			return err
		}
		end := len(data)
		if !eof {
			end = bytes.LastIndexByte(data, '\n') + 1
		}
		region := data[:end]
		for off := anchor; off < len(region); {
			i := bytes.Index(region[off:], needle[anchor:])
			if i < 0 {
				break
			}
			i += off - anchor
			if !bytes.HasPrefix(region[i:], needle) {
				off = i + anchor + 1
				continue
			}
			start := bytes.LastIndexByte(region[:i], '\n') + 1
			stop := bytes.IndexByte(region[i:], '\n')
			if stop < 0 {
				stop = len(region)
			} else {
				stop += i
			}
			if !fn(region[start:stop]) {
				return errStop
			}
			off = stop + 1
		}
		if eof {
			return nil
		}
		rest := copy(buf[:cap(buf)], data[end:])
		if rest == cap(buf) { // one line fills the buffer
			buf = append(buf[:rest], make([]byte, cap(buf))...)
		}
		buf = buf[:rest]
	}
}
