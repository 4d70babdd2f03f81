package formats

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Tables: the data sets beside the DNC lists (blocks, consent, RND answers,
// exemptions) come as CSV files with a header line, read by column name. An
// importer names the columns it understands; a file whose columns are named
// otherwise is read with a mapping (--map type=LTYPE: the type is in column
// LTYPE). Every error names FILE:LINE.

// Column is a column a table reader understands.
type Column struct {
	Name     string
	Required bool
	// Aliases are the other names the field's files give the column. Names
	// are compared without case, spaces and punctuation: "Area Code",
	// area_code and AREACODE are one name.
	Aliases []string
	// Instead names the columns that can stand in for a required one: a
	// combined NPA-NXX column holds both the area code and the exchange.
	Instead []string
}

// matches tells whether a header field names the column: its name first, then an alias.
func (c Column) matches(field string) (exact, alias bool) {
	name := headerName([]byte(field))
	if name == headerName([]byte(c.Name)) {
		return true, false
	}
	for _, a := range c.Aliases {
		if name == headerName([]byte(a)) {
			return false, true
		}
	}
	return false, false
}

// Mapping maps a column's standard name to the name (or, in a file without
// a header, the 1-based position) it has in a file.
type Mapping map[string]string

// ParseMapping reads NAME=COLUMN pairs, e.g. ["type=LTYPE", "state=ST"].
func ParseMapping(pairs []string) (Mapping, error) {
	m := Mapping{}
	for _, p := range pairs {
		name, column, ok := strings.Cut(p, "=")
		name, column = strings.TrimSpace(name), strings.TrimSpace(column)
		if !ok || name == "" || column == "" {
			return nil, fmt.Errorf("--map %q: want NAME=COLUMN, e.g. type=LTYPE", p)
		}
		m[strings.ToLower(name)] = column
	}
	return m, nil
}

// Row is one line of a table.
type Row struct {
	File   string
	Line   int
	fields []string
	index  map[string]int // standard column name → field
}

// Get returns the trimmed field of the standard column name, "" when the file lacks the column.
func (r *Row) Get(name string) string {
	i, ok := r.index[name]
	if !ok || i >= len(r.fields) {
		return ""
	}
	return strings.TrimSpace(r.fields[i])
}

// Has tells whether the file has the standard column name.
func (r *Row) Has(name string) bool {
	_, ok := r.index[name]
	return ok
}

// Errorf makes an error naming the row's FILE:LINE.
func (r *Row) Errorf(format string, args ...any) error {
	return &LineError{File: r.File, Line: r.Line, Reason: fmt.Sprintf(format, args...)}
}

// Number reads the named column as a telephone number.
func (r *Row) Number(column string) (Number, error) {
	n, err := parseWritten(r.Get(column))
	if err != nil {
		return n, r.Errorf("%s: %v", column, err)
	}
	return n, nil
}

// Time reads the named column as RFC 3339 or a date (YYYY-MM-DD and the other
// forms ParseDay reads, as midnight UTC); an empty field is the zero time
// unless the column is required.
func (r *Row) Time(column string, required bool) (time.Time, error) {
	s := r.Get(column)
	if s == "" {
		if required {
			return time.Time{}, r.Errorf("%s is empty", column)
		}
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	d, err := ParseDay(s)
	if err != nil {
		return time.Time{}, r.Errorf("%s: %q is not a time (RFC 3339, e.g. 2026-03-04T10:00:00Z, or YYYY-MM-DD)", column, s)
	}
	return d.Time(), nil
}

// numberColumn is every table's telephone number column.
var numberColumn = Column{Name: "number", Required: true, Aliases: numberNames}

// sellerColumn is the seller column of the tables that name one.
func sellerColumn(required bool) Column {
	return Column{Name: "seller", Required: required, Aliases: []string{"seller_name", "seller_id", "company", "brand", "client"}}
}

// ReadTable reads a CSV table with a header line from r, calling row for each
// line. columns are the standard names; mapping renames them. A missing
// required column fails at line 1; a row fn rejects fails with its own error.
func ReadTable(r io.Reader, name string, columns []Column, mapping Mapping, row func(*Row) error) error {
	br, err := textReader(r, name)
	if err != nil {
		return err
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return &LineError{File: name, Line: 1, Reason: "the file is empty: want a header line, e.g. " + exampleHeader(columns)}
	}
	if err != nil {
		return csvError(name, err)
	}
	index, err := headerIndex(header, columns, mapping)
	if err != nil {
		return &LineError{File: name, Line: 1, Reason: err.Error()}
	}
	return readRows(cr, name, index, row)
}

// ReadPositional reads a CSV table without a header: positions gives each
// standard column's 1-based position (overridden by a number in mapping).
func ReadPositional(r io.Reader, name string, positions map[string]int, mapping Mapping, row func(*Row) error) error {
	br, err := textReader(r, name)
	if err != nil {
		return err
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.Comment = '#'
	index := map[string]int{}
	for column, pos := range positions {
		index[column] = pos - 1
	}
	for column, m := range mapping {
		p, err := strconv.Atoi(m)
		if err != nil || p < 1 {
			return fmt.Errorf("%s: --map %s=%s: this file has no header, so give the column's position (1, 2, ...)", name, column, m)
		}
		index[column] = p - 1
	}
	return readRows(cr, name, index, row)
}

func readRows(cr *csv.Reader, name string, index map[string]int, row func(*Row) error) error {
	r := Row{File: name, index: index}
	for {
		fields, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && !errors.Is(pe.Err, csv.ErrFieldCount) {
				return &LineError{File: name, Line: pe.StartLine, Reason: pe.Err.Error()}
			}
			return csvError(name, err)
		}
		r.Line, _ = cr.FieldPos(0)
		if len(fields) == 1 && strings.TrimSpace(fields[0]) == "" {
			continue
		}
		r.fields = fields
		if err := row(&r); err != nil {
			return err
		}
	}
}

// headerIndex finds each standard column in a header: by the name mapping
// gives it, else by its own name, else by one of its aliases. Two header
// columns that are both aliases of one column are refused rather than
// guessed between; a required column is missing only when no column that
// can stand in for it is there either.
func headerIndex(header []string, columns []Column, mapping Mapping) (map[string]int, error) {
	for name := range mapping {
		if !knownColumn(columns, name) {
			return nil, fmt.Errorf("--map %s: no such column; this kind of file has %s", name, columnNames(columns))
		}
	}
	index := map[string]int{}
	for _, c := range columns {
		want := c
		if m, ok := mapping[c.Name]; ok {
			want = Column{Name: m} // the mapped name only
		}
		found, err := findColumn(header, want)
		if err != nil {
			return nil, err
		}
		if found >= 0 {
			index[c.Name] = found
		}
	}
	for _, c := range columns {
		if _, ok := index[c.Name]; ok || !c.Required || slices.ContainsFunc(c.Instead, func(n string) bool { _, ok := index[n]; return ok }) {
			continue
		}
		names := strconv.Quote(c.Name)
		if m, ok := mapping[c.Name]; ok {
			names = strconv.Quote(m)
		} else if aliases := slices.DeleteFunc(slices.Clone(c.Aliases), func(a string) bool { return a == c.Name }); len(aliases) > 0 {
			names += " (or " + strings.Join(aliases, ", ") + ")"
		}
		if len(c.Instead) > 0 {
			names += ", nor " + strings.Join(c.Instead, " or ")
		}
		return nil, fmt.Errorf("the header has no column %s (it has %s); name it so, or map it with --map %s=COLUMN", names, strings.Join(header, ","), c.Name)
	}
	return index, nil
}

// findColumn returns the header field that names c, or -1.
func findColumn(header []string, c Column) (int, error) {
	found := -1
	for i, h := range header {
		exact, alias := c.matches(h)
		if exact {
			return i, nil
		}
		if !alias {
			continue
		}
		if found >= 0 {
			return -1, fmt.Errorf("columns %d (%s) and %d (%s) could both be the %s column; say which with --map %s=COLUMN", found+1, header[found], i+1, h, c.Name, c.Name)
		}
		found = i
	}
	return found, nil
}

func knownColumn(columns []Column, name string) bool {
	for _, c := range columns {
		if c.Name == name {
			return true
		}
	}
	return false
}

// exampleHeader names the columns, leaving out those that only stand in for others.
func exampleHeader(columns []Column) string {
	var names []string
	for _, c := range columns {
		if !slices.ContainsFunc(columns, func(o Column) bool { return slices.Contains(o.Instead, c.Name) }) {
			names = append(names, c.Name)
		}
	}
	return strings.Join(names, ",")
}

func columnNames(columns []Column) string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.Name
	}
	return strings.Join(names, ",")
}

// ReadTableFile opens a table file, hands it to read and returns its size and SHA-256.
func ReadTableFile(path string, read func(r io.Reader, name string) error) (File, error) {
	f, fi, err := openRegular(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	if err := read(io.TeeReader(f, h), path); err != nil {
		return File{}, err
	}
	// Hash what the reader left unread too, so that the sum is the file's.
	if _, err := io.Copy(h, f); err != nil {
		return File{}, err
	}
	return File{Size: fi.Size(), SHA256: hex.EncodeToString(h.Sum(nil)), ModTime: fi.ModTime()}, nil
}
