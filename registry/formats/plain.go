// Package formats reads the files that DNC lists are imported from. Readers
// know file layouts and number syntax, nothing of storage: each hands the
// numbers it reads to a callback, and each error names FILE:LINE.
package formats

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
)

// Number is one telephone number read from a list file.
type Number struct {
	// E164 holds a number outside the North American Numbering Plan; it is
	// empty for NANP numbers, which Exchange and Line hold without a string
	// (the national list has 250 M of them: no allocation per number).
	E164 string
	// Exchange is the NPA-NXX as a six-digit integer (200200..999999), as number.SplitNANP gives it.
	Exchange uint32
	// Line is the last four digits (0..9999).
	Line uint16
}

// IsNANP tells whether the number is North American (Exchange and Line are set).
func (n Number) IsNANP() bool { return n.E164 == "" }

// LineError is a line of a list file that cannot be read.
type LineError struct {
	File   string
	Line   int
	Reason string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

// Record is one line of a list: a number to list or, in a change list, to delete.
type Record struct {
	Number
	Delete bool
	// Date is the change's date in a change list (0 when the line has none).
	Date Day
}

// Sink receives what a reader reads. An error returned by either function
// stops the reading and is returned as it is.
type Sink struct {
	// Layout, when not nil, is told how the file will be read before any record.
	Layout func(Layout) error
	Record func(Record) error
	// Invalid receives each line that cannot be read; returning nil skips the
	// line. When Invalid is nil, the first such line stops the reading with its *LineError.
	Invalid func(*LineError) error
}

func (s Sink) invalid(e *LineError) error {
	if s.Invalid == nil {
		return e
	}
	return s.Invalid(e)
}

// maxLineLength bounds a line: a number line is at most a few dozen bytes, so
// anything longer is not a list file. It is also the read buffer's size, as
// bufio.Scanner takes the larger of the two as its limit.
const maxLineLength = 64 * 1024

// lines calls fn with each line that is neither blank nor a '#' comment,
// trimmed, and its line number. An over-long line is reported as invalid.
func lines(r io.Reader, name string, fn func(text []byte, line int) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, maxLineLength), maxLineLength)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		if err := fn(text, line); err != nil {
			return err
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		// The scanner cannot resynchronize after an over-long line: the rest of the file is lost.
		return &LineError{File: name, Line: line + 1, Reason: fmt.Sprintf("line is longer than %d bytes: not a list of numbers", maxLineLength)}
	}
	if sc.Err() != nil {
		return fmt.Errorf("%s: %w", name, sc.Err())
	}
	return nil
}

// ReadPlain reads a plain list, one number per line in any of the forms
// ParseNumber accepts (FTC: only NPANXXXXXX and NPA,NXXXXXX, the forms of
// the FTC's full list files); blank lines and lines starting with '#' are
// skipped, and so is a UTF-8 byte-order mark. name is the file name used in errors.
func ReadPlain(r io.Reader, name string, format Format, sink Sink) error {
	parse := ParseNumber
	if format == FTC {
		parse = parseFTC
	}
	br, err := textReader(r, name)
	if err != nil {
		return err
	}
	return lines(br, name, func(text []byte, line int) error {
		n, err := parse(text)
		if err != nil {
			return sink.invalid(&LineError{File: name, Line: line, Reason: err.Error()})
		}
		return sink.Record(Record{Number: n})
	})
}

// parseFTC reads the two forms of the FTC's full list files.
func parseFTC(text []byte) (Number, error) {
	switch {
	case len(text) == 11 && text[3] == ',':
		return nanp(text[:3], text[4:], text)
	case len(text) == 10:
		return nanp(text[:3], text[3:], text)
	}
	return Number{}, fmt.Errorf("%s is not an FTC list line (NPANXXXXXX or NPA,NXXXXXX)", quote(text))
}

// acceptedForms is named in every parse error so that the reader knows what to write instead.
const acceptedForms = "NPANXXXXXX, NPA,NXXXXXX, 1NPANXXXXXX or +E.164"

// ParseNumber reads one number written as NPANXXXXXX, NPA,NXXXXXX,
// 1NPANXXXXXX or E.164 (+1NPANXXXXXX, or any country through number.Normalize).
// The digit-only forms take a fast path without allocation.
func ParseNumber(text []byte) (Number, error) {
	switch {
	case len(text) == 11 && text[3] == ',':
		return nanp(text[:3], text[4:], text)
	case len(text) == 10:
		return nanp(text[:3], text[3:], text)
	case len(text) == 11 && text[0] == '1':
		return nanp(text[1:4], text[4:], text)
	case len(text) == 12 && text[0] == '+' && text[1] == '1':
		return nanp(text[2:5], text[5:], text)
	case len(text) > 0 && text[0] == '+':
		e164, err := number.Normalize(string(text), "US")
		if err != nil {
			return Number{}, err
		}
		if exchange, line, ok := number.SplitNANP(e164); ok {
			return Number{Exchange: exchange, Line: line}, nil
		}
		return Number{E164: e164}, nil
	}
	return Number{}, fmt.Errorf("%s is not a number in an accepted form (%s)", quote(text), acceptedForms)
}

// nanp checks a 3-digit area code and a 7-digit subscriber number as
// number.Normalize does (number.CheckExchange).
func nanp(npa, subscriber, text []byte) (Number, error) {
	var v uint64 // ten digits overflow 32 bits
	for _, part := range [][]byte{npa, subscriber} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return Number{}, fmt.Errorf("%s is not a number in an accepted form (%s)", quote(text), acceptedForms)
			}
			v = v*10 + uint64(c-'0')
		}
	}
	exchange := uint32(v / 10000)
	if err := number.CheckExchange(exchange); err != nil {
		return Number{}, fmt.Errorf("%s: %v", quote(text), err)
	}
	return Number{Exchange: exchange, Line: uint16(v % 10000)}, nil
}

// quote shows a line in an error, cut short when it is long.
func quote(text []byte) string {
	const max = 40
	if len(text) > max {
		return fmt.Sprintf("%q...", text[:max])
	}
	return fmt.Sprintf("%q", text)
}
