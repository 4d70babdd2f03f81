package formats

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Format is the layout of a list file.
type Format string

const (
	// FTC is the FTC's full list: one number per line as NPANXXXXXX or NPA,NXXXXXX.
	FTC Format = "ftc"
	// FTCChanges is the FTC's change list: a number, an add/delete flag and
	// usually a date per line, comma separated, columns in any order.
	FTCChanges Format = "ftc-changes"
	// Plain is one number per line in any form ParseNumber accepts.
	Plain Format = "plain"
	// CSV is a CSV file with a header line; the numbers are in one named column.
	CSV Format = "csv"
)

// Formats lists every format, for help texts.
var Formats = []Format{FTC, FTCChanges, Plain, CSV}

// ParseFormat checks a format name; "" means "recognize it".
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	if s == "" {
		return "", nil
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown format %q: use one of %s", s, strings.Join(names, ", "))
}

// Options say how to read a file. The zero value recognizes the format.
type Options struct {
	Format Format // "" recognizes it from the first lines
	Column string // the CSV column holding the numbers (implies CSV when Format is "")
}

// Layout says how a file was read.
type Layout struct {
	Format   Format `json:"format"`
	Detected bool   `json:"detected,omitempty"` // the format was recognized, not given
	Detail   string `json:"detail,omitempty"`   // the columns of a change list or CSV
}

func (l Layout) String() string {
	s := string(l.Format)
	if l.Detail != "" {
		s += " (" + l.Detail + ")"
	}
	if l.Detected {
		s += ", recognized"
	}
	return s
}

// sampleSize is how much of a file detection looks at: enough for a few
// hundred lines, and within bufio's Peek.
const sampleSize = 64 << 10

// maxSampleLines bounds the lines detection checks.
const maxSampleLines = 50

type sampleLine struct {
	text []byte
	line int
}

// sample returns the first content lines (not blank, not '#') of head; a last
// line cut off by the end of head is left out unless head is the whole file.
func sample(head []byte, whole bool) []sampleLine {
	var out []sampleLine
	for n := 1; len(head) > 0 && len(out) < maxSampleLines; n++ {
		i := bytes.IndexByte(head, '\n')
		if i < 0 && !whole {
			break
		}
		text := head
		if i >= 0 {
			text, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		if text = bytes.TrimSpace(text); len(text) > 0 && text[0] != '#' {
			out = append(out, sampleLine{text: text, line: n})
		}
	}
	return out
}

// Read reads one list (a file, or an entry of a zip archive) named name, in
// the format opts gives or, without one, the format its first lines show.
func Read(r io.Reader, name string, opts Options, sink Sink) (Layout, error) {
	br, err := textReader(r, name)
	if err != nil {
		return Layout{}, err
	}
	head, err := br.Peek(sampleSize)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return Layout{}, fmt.Errorf("%s: %w", name, err)
	}
	p, err := plan(head, err == io.EOF, opts)
	if err != nil {
		return p.Layout, fmt.Errorf("%s: %w", name, err)
	}
	if sink.Layout != nil {
		if err := sink.Layout(p.Layout); err != nil {
			return p.Layout, err
		}
	}
	switch p.Format {
	case FTC, Plain:
		// A recognized FTC file is read leniently: its first lines are only a sample.
		strictness := p.Format
		if p.Detected {
			strictness = Plain
		}
		return p.Layout, ReadPlain(br, name, strictness, sink)
	case FTCChanges:
		return p.Layout, readChanges(br, name, p.changes, sink)
	default:
		return p.Layout, readCSV(br, name, p.column, sink)
	}
}

// readPlan is how a file is to be read.
type readPlan struct {
	Layout
	changes changeColumns // FTCChanges
	column  string        // CSV
}

// plan decides how to read a file from its first bytes.
func plan(head []byte, whole bool, opts Options) (readPlan, error) {
	lines := sample(head, whole)
	format := opts.Format
	detected := format == ""
	if detected {
		format = recognize(lines, opts)
	}
	p := readPlan{Layout: Layout{Format: format, Detected: detected}}
	switch format {
	case FTC, Plain:
		return p, nil
	case FTCChanges:
		c, err := inferChanges(lines)
		if err != nil {
			return p, fmt.Errorf("cannot tell the columns of this change list apart: %v; add a header line naming them (number,date,flag)", err)
		}
		p.changes, p.Detail = c, c.String()
		return p, nil
	case CSV:
		column := opts.Column
		if column == "" && len(lines) > 0 {
			var buf [maxFields][]byte
			if sep, ok := separator(lines[0].text); ok {
				column, _ = csvPhoneColumn(splitFields(buf[:0], lines[0].text, sep))
			}
		}
		if column == "" {
			return p, fmt.Errorf("a CSV file needs --column NAME: the header column holding the numbers")
		}
		p.column, p.Detail = column, "column "+column
		return p, nil
	}
	return p, fmt.Errorf("line %d: %s is neither a number, nor a change list line (number, date, A|D), nor a CSV header naming a phone column; give --format (%s) and, for CSV, --column",
		lines[0].line, quote(lines[0].text), strings.Join(formatNames(), ", "))
}

func formatNames() []string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return names
}

// recognize picks the format the sampled lines show, or "" when none fits.
// A bad line among good ones does not change the verdict: the reader then
// reports it with its line number.
func recognize(lines []sampleLine, opts Options) Format {
	if opts.Column != "" {
		return CSV
	}
	if len(lines) == 0 {
		return Plain // nothing but comments: an empty list
	}
	ftc, plain := 0, 0
	for _, l := range lines {
		if _, err := parseFTC(l.text); err == nil {
			ftc++
		}
		if _, err := ParseNumber(l.text); err == nil {
			plain++
		}
	}
	switch {
	case ftc > 0 && ftc == plain:
		return FTC
	case plain*2 > len(lines):
		return Plain
	}
	if _, err := inferChanges(lines); err == nil {
		return FTCChanges
	}
	var buf [maxFields][]byte
	if sep, ok := separator(lines[0].text); ok {
		if fields := splitFields(buf[:0], lines[0].text, sep); isHeader(fields) {
			if _, err := columnsByHeader(fields, sep); err == nil {
				return FTCChanges
			}
			if _, ok := csvPhoneColumn(fields); ok {
				return CSV
			}
		}
		if _, err := columnsByValue(splitFields(buf[:0], lines[0].text, sep), sep); err == nil {
			return FTCChanges // a later sampled line is bad: reading will say which
		}
	}
	return ""
}
