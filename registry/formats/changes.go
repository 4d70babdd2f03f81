package formats

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// A change list has, per line, a number (one field, or an area code and a
// seven-digit number in two), an add/delete flag and usually a date, in an
// order that differs between sources. The columns are found from a header
// line when there is one, else from the shape of the values; a file whose
// columns cannot be told apart is refused rather than guessed at.
type changeColumns struct {
	sep    byte
	header bool // the first content line names the columns
	// number is the number's field; when areaCode is not -1, the area code is
	// in field areaCode and number holds the other seven digits.
	number, areaCode int
	flag             int
	date             int // -1: the lines have no date
	fields           int // the fields a line must have at least
}

func (c changeColumns) String() string {
	names := map[int]string{c.number: "number", c.flag: "flag"}
	if c.areaCode >= 0 {
		names[c.areaCode], names[c.number] = "area code", "number (7 digits)"
	}
	if c.date >= 0 {
		names[c.date] = "date"
	}
	var parts []string
	for i := range c.fields {
		if n, ok := names[i]; ok {
			parts = append(parts, fmt.Sprintf("%d=%s", i+1, n))
		}
	}
	how := "by their values"
	if c.header {
		how = "from the header"
	}
	return fmt.Sprintf("columns %s, %s", strings.Join(parts, " "), how)
}

// separator picks the field separator of a line: the first of , TAB | ; it holds.
func separator(line []byte) (byte, bool) {
	for _, sep := range []byte{',', '\t', '|', ';'} {
		if bytes.IndexByte(line, sep) >= 0 {
			return sep, true
		}
	}
	return 0, false
}

// maxFields bounds the fields of a change list line (they have 3 or 4).
const maxFields = 16

// splitFields splits line at sep into dst, trimming spaces and quotes.
func splitFields(dst [][]byte, line []byte, sep byte) [][]byte {
	dst = dst[:0]
	for len(dst) < maxFields {
		i := bytes.IndexByte(line, sep)
		field := line
		if i >= 0 {
			field = line[:i]
		}
		dst = append(dst, bytes.Trim(bytes.TrimSpace(field), `"`))
		if i < 0 {
			break
		}
		line = line[i+1:]
	}
	return dst
}

type fieldKind uint8

const (
	kindOther fieldKind = iota
	kindNumber
	kindAreaCode
	kindSubscriber
	kindDate
	kindFlag
)

func classify(f []byte) fieldKind {
	switch {
	case isDigits(f, 3) && f[0] >= '2':
		return kindAreaCode
	case isDigits(f, 7) && f[0] >= '2':
		return kindSubscriber
	case len(f) >= 10:
		if _, err := ParseNumber(f); err == nil {
			return kindNumber
		}
	}
	if _, ok := parseFlag(f); ok {
		return kindFlag
	}
	if isDate(string(f)) {
		return kindDate
	}
	return kindOther
}

func isDigits(f []byte, n int) bool {
	if len(f) != n {
		return false
	}
	for _, c := range f {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseFlag reads an add/delete flag: A, ADD, ADDED or D, DEL, DELETE, DELETED.
func parseFlag(f []byte) (del bool, ok bool) {
	switch strings.ToUpper(string(f)) {
	case "A", "ADD", "ADDED":
		return false, true
	case "D", "DEL", "DELETE", "DELETED":
		return true, true
	}
	return false, false
}

// columnsByValue finds the columns of a data line from the shape of its values.
func columnsByValue(fields [][]byte, sep byte) (changeColumns, error) {
	c := changeColumns{sep: sep, number: -1, areaCode: -1, flag: -1, date: -1, fields: len(fields)}
	var numbers, flags, dates []int
	kinds := make([]fieldKind, len(fields))
	for i, f := range fields {
		kinds[i] = classify(f)
	}
	for i, k := range kinds {
		switch {
		case k == kindNumber:
			numbers = append(numbers, i)
		case k == kindAreaCode && i+1 < len(kinds) && kinds[i+1] == kindSubscriber:
			numbers = append(numbers, i)
			c.areaCode = i
		case k == kindFlag:
			flags = append(flags, i)
		case k == kindDate:
			dates = append(dates, i)
		}
	}
	switch {
	case len(numbers) != 1:
		return c, fmt.Errorf("%d columns look like telephone numbers, want 1", len(numbers))
	case len(flags) != 1:
		return c, fmt.Errorf("%d columns look like add/delete flags (A or D), want 1", len(flags))
	case len(dates) > 1:
		return c, fmt.Errorf("columns %d and %d both look like dates", dates[0]+1, dates[1]+1)
	}
	c.number, c.flag = numbers[0], flags[0]
	if c.areaCode >= 0 {
		c.number = c.areaCode + 1
	}
	if len(dates) == 1 {
		c.date = dates[0]
	}
	return c, nil
}

// Header names of change list columns, compared without case and punctuation.
var (
	numberNames = []string{"number", "phone", "phonenumber", "telephone", "telephonenumber", "tn", "phoneno", "telno",
		"mobile", "mobilenumber", "mobilephone", "cell", "cellphone", "cellnumber", "msisdn"}
	areaCodeNames = []string{"areacode", "npa"}
	flagNames     = []string{"flag", "action", "change", "changetype", "type", "addordelete", "adddelete", "adddel", "op", "operation", "status"}
)

func headerName(f []byte) string {
	var b strings.Builder
	for _, r := range strings.ToLower(string(f)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isHeader(fields [][]byte) bool {
	letters := false
	for _, f := range fields {
		switch classify(f) {
		case kindNumber, kindAreaCode, kindSubscriber, kindDate:
			return false
		}
		letters = letters || bytes.ContainsAny(bytes.ToLower(f), "abcdefghijklmnopqrstuvwxyz")
	}
	return letters
}

// columnsByHeader maps the columns a header names.
func columnsByHeader(fields [][]byte, sep byte) (changeColumns, error) {
	c := changeColumns{sep: sep, header: true, number: -1, areaCode: -1, flag: -1, date: -1, fields: len(fields)}
	set := func(dst *int, i int, what string) error {
		if *dst >= 0 {
			return fmt.Errorf("columns %d (%s) and %d (%s) both name the %s", *dst+1, fields[*dst], i+1, fields[i], what)
		}
		*dst = i
		return nil
	}
	for i, f := range fields {
		name := headerName(f)
		var err error
		switch {
		case contains(numberNames, name):
			err = set(&c.number, i, "number")
		case contains(areaCodeNames, name):
			err = set(&c.areaCode, i, "area code")
		case contains(flagNames, name):
			err = set(&c.flag, i, "add/delete flag")
		case strings.Contains(name, "date") || name == "day":
			err = set(&c.date, i, "date")
		}
		if err != nil {
			return c, err
		}
	}
	switch {
	case c.number < 0:
		return c, fmt.Errorf("no column names the number (one of %s)", strings.Join(numberNames, ", "))
	case c.flag < 0:
		return c, fmt.Errorf("no column names the add/delete flag (one of %s)", strings.Join(flagNames, ", "))
	}
	return c, nil
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// inferChanges finds the columns of a change list from its first content
// lines and checks that every sampled data line fits them.
func inferChanges(sample []sampleLine) (changeColumns, error) {
	if len(sample) == 0 {
		return changeColumns{}, fmt.Errorf("no lines to tell the columns from")
	}
	sep, ok := separator(sample[0].text)
	if !ok {
		return changeColumns{}, fmt.Errorf("line %d has a single column: not a change list (number, date, A|D)", sample[0].line)
	}
	var buf [maxFields][]byte
	first := splitFields(buf[:0], sample[0].text, sep)
	var c changeColumns
	var err error
	data := sample
	if isHeader(first) {
		c, err = columnsByHeader(first, sep)
		data = sample[1:]
	} else {
		c, err = columnsByValue(first, sep)
	}
	if err != nil {
		return c, fmt.Errorf("line %d: %v", sample[0].line, err)
	}
	// The other lines confirm the columns; a few bad ones are reported when
	// read, but a file most of whose lines do not fit is not what it seemed.
	misfits := 0
	var firstMisfit error
	for _, s := range data {
		if _, err := c.parse(splitFields(buf[:0], s.text, sep)); err != nil {
			if misfits++; firstMisfit == nil {
				firstMisfit = fmt.Errorf("line %d does not fit the columns of line %d (%s): %v", s.line, sample[0].line, c, err)
			}
		}
	}
	if misfits*2 > len(data) {
		return c, firstMisfit
	}
	return c, nil
}

// parse reads the record of one line's fields.
func (c changeColumns) parse(fields [][]byte) (Record, error) {
	if len(fields) < c.fields {
		return Record{}, fmt.Errorf("%d fields, want %d", len(fields), c.fields)
	}
	var r Record
	var err error
	if c.areaCode >= 0 {
		npa, sub := fields[c.areaCode], fields[c.number]
		if !isDigits(npa, 3) || !isDigits(sub, 7) {
			return r, fmt.Errorf("%s,%s is not an area code and a seven-digit number", quote(npa), quote(sub))
		}
		r.Number, err = nanp(npa, sub, fields[c.number])
	} else {
		r.Number, err = ParseNumber(fields[c.number])
	}
	if err != nil {
		return r, err
	}
	del, ok := parseFlag(fields[c.flag])
	if !ok {
		return r, fmt.Errorf("flag %s is neither A (add) nor D (delete)", quote(fields[c.flag]))
	}
	r.Delete = del
	if c.date >= 0 && len(fields[c.date]) > 0 {
		if r.Date, err = ParseDay(string(fields[c.date])); err != nil {
			return r, err
		}
	}
	return r, nil
}

// readChanges reads a change list whose columns are c.
func readChanges(r io.Reader, name string, c changeColumns, sink Sink) error {
	var buf [maxFields][]byte
	headerSkipped := !c.header
	return lines(r, name, func(text []byte, line int) error {
		if !headerSkipped {
			headerSkipped = true
			return nil
		}
		rec, err := c.parse(splitFields(buf[:0], text, c.sep))
		if err != nil {
			return sink.invalid(&LineError{File: name, Line: line, Reason: err.Error()})
		}
		return sink.Record(rec)
	})
}
