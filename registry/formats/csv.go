package formats

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
)

// readCSV reads the numbers of one named column of a CSV file with a header
// line, as CRMs export them: quoted fields, other columns ignored, numbers
// written any way people write them ("(202) 555-0143", "+1 202-555-0143").
func readCSV(r io.Reader, name, column string, sink Sink) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // rows are checked for the column, not for a fixed width
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return csvError(name, err)
	}
	col, err := csvColumn(header, column)
	if err != nil {
		return &LineError{File: name, Line: 1, Reason: err.Error()}
	}
	for {
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && !errors.Is(pe.Err, csv.ErrFieldCount) {
				if err := sink.invalid(&LineError{File: name, Line: pe.StartLine, Reason: pe.Err.Error()}); err != nil {
					return err
				}
				continue
			}
			return csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if col >= len(row) {
			if err := sink.invalid(&LineError{File: name, Line: line, Reason: fmt.Sprintf("no column %q (the row has %d fields)", column, len(row))}); err != nil {
				return err
			}
			continue
		}
		n, err := parseWritten(row[col])
		if err != nil {
			if err := sink.invalid(&LineError{File: name, Line: line, Reason: fmt.Sprintf("column %s: %v", column, err)}); err != nil {
				return err
			}
			continue
		}
		if err := sink.Record(Record{Number: n}); err != nil {
			return err
		}
	}
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &LineError{File: name, Line: pe.StartLine, Reason: pe.Err.Error()}
	}
	return fmt.Errorf("%s: %w", name, err)
}

// csvColumn finds the column named column (without regard to case) in a header.
func csvColumn(header []string, column string) (int, error) {
	for i, h := range header {
		if strings.EqualFold(strings.TrimSpace(h), column) {
			return i, nil
		}
	}
	return -1, fmt.Errorf("the header has no column %q (it has %s)", column, strings.Join(header, ", "))
}

// csvPhoneColumn finds the column of a header that names a telephone number, if exactly one does.
func csvPhoneColumn(header [][]byte) (string, bool) {
	found := ""
	for _, h := range header {
		if contains(numberNames, headerName(h)) {
			if found != "" {
				return "", false
			}
			found = string(h)
		}
	}
	return found, found != ""
}

// parseWritten reads a number as people write it: the compact forms first,
// then punctuation and spaces as number.Normalize accepts them.
func parseWritten(s string) (Number, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Number{}, errors.New("empty")
	}
	if n, err := ParseNumber([]byte(s)); err == nil {
		return n, nil
	}
	e164, err := number.Normalize(s, "US")
	if err != nil {
		return Number{}, err
	}
	exchange, line, ok := number.SplitNANP(e164)
	switch {
	case ok:
		return Number{Exchange: exchange, Line: line}, nil
	case strings.HasPrefix(e164, "+1"):
		return Number{}, fmt.Errorf("%q is not a ten-digit North American number", s)
	}
	return Number{E164: e164}, nil
}
