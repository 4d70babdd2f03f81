// Package trace is a decision's trace: the rules the policy consulted, in
// order, and for each condition evaluated its outcome, the fact it saw and
// the data it consulted. The policy writes it; every reader of the audit log
// (audit query, stats, evidence, the auditors' page, policy replay) reads it.
// Its JSON is the audit record's "trace" (docs/audit.md, "The trace").
//
// A trace is written in its compact form: an object whose names are the
// rules in the order consulted, each with the list of its conditions as
// short strings,
//
//	{"national-dnc":["listed holds v7: ftc","exempt holds: none: absent"],"federal-hours":["outside_hours: America/New_York"]}
//
// A condition's string is its kind, then, each only when present and in this
// order: " holds" (the condition held), " v7" or " v7,12" (the data versions
// consulted, in order), " count N" (the figure compared), " record " and the
// record's id as a quoted string (strconv.Quote), and last ": " and the
// value, which runs to the end of the string. A rule with monitor: true has
// "monitor" before its conditions. A rule matched when all its conditions
// held. Records written by builds up to 2026-11-29 hold the long form, a list
// of {"rule","matched","monitor","conditions":[{"kind","holds","value",
// "version","versions","count","record"}]} objects; Trace reads both.
package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// Trace is the rules consulted for a decision, in order, up to the one that
// decided.
type Trace []Rule

// Rule records one rule consulted. The JSON tags are the long form's.
type Rule struct {
	Rule    string `json:"rule"`
	Matched bool   `json:"matched,omitempty"`
	// Monitor marks a rule that only monitors: its match is logged, not enforced.
	Monitor bool `json:"monitor,omitempty"`
	// Conditions holds the conditions evaluated, in the order written; evaluation
	// stops at the first that does not hold, so later ones are absent.
	Conditions []Condition `json:"conditions"`
}

// Condition records one condition's outcome and the facts it saw.
type Condition struct {
	Kind  string `json:"kind"`
	Holds bool   `json:"holds,omitempty"`
	// Value is the fact the condition saw: the list that holds the number, the
	// state, the zone that is outside hours, the holiday, the caller ID class...
	Value string `json:"value,omitempty"`
	// Version is the import id of the data set consulted, whether or not the
	// condition holds (0: none was, or it was never imported); import ids are
	// unique across all data sets, so each names one data_change record.
	Version uint64 `json:"version,omitempty"`
	// Versions are the import ids, in the order consulted, when the condition
	// consulted several imported data sets (a listed condition of several
	// lists that hold no number, an exemption and its overriding lists);
	// Version is then 0.
	Versions []uint64 `json:"versions,omitempty"`
	// Count is the figure the condition compared: attempts in the window, a list's age in days.
	Count int `json:"count,omitempty"`
	// Record is the id of the consent or exemption record that answered, when one did.
	Record string `json:"record,omitempty"`
}

// Cite adds the import id of a data set the condition consulted: to Version
// for the first, to Versions from the second on. A data set never imported
// (0) has no import to cite, and one cited already is not cited again.
func (c *Condition) Cite(version uint64) {
	switch {
	case version == 0 || version == c.Version || slices.Contains(c.Versions, version):
	case c.Version == 0 && c.Versions == nil:
		c.Version = version
	case c.Versions == nil:
		c.Versions, c.Version = []uint64{c.Version, version}, 0
	default:
		c.Versions = append(c.Versions, version)
	}
}

// DataVersions are the import ids the condition cites: Versions, or Version
// alone, nil when none.
func (c Condition) DataVersions() []uint64 {
	if c.Versions != nil || c.Version == 0 {
		return c.Versions
	}
	return []uint64{c.Version}
}

// monitorMark stands before the conditions of a rule with monitor: true; no
// condition kind has that name.
const monitorMark = "monitor"

// MarshalJSON writes the compact form (package doc).
func (t Trace) MarshalJSON() ([]byte, error) { return t.AppendJSON(nil), nil }

// AppendJSON appends the compact form of t to b. Strings are quoted as
// jsontext does: invalid UTF-8 becomes U+FFFD, and <, > and & stay as they are.
func (t Trace) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	var cond []byte
	for i, r := range t {
		if i > 0 {
			b = append(b, ',')
		}
		b, _ = jsontext.AppendQuote(b, r.Rule)
		b = append(b, ':', '[')
		if r.Monitor {
			b = append(b, `"`+monitorMark+`"`...)
		}
		for j, c := range r.Conditions {
			if j > 0 || r.Monitor {
				b = append(b, ',')
			}
			cond = c.appendText(cond[:0])
			b, _ = jsontext.AppendQuote(b, cond)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendText writes the condition's string (package doc).
func (c Condition) appendText(b []byte) []byte {
	b = append(b, c.Kind...)
	if c.Holds {
		b = append(b, " holds"...)
	}
	if versions := c.DataVersions(); len(versions) > 0 {
		b = append(b, " v"...)
		for i, v := range versions {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, v, 10)
		}
	}
	if c.Count != 0 {
		b = append(b, " count "...)
		b = strconv.AppendInt(b, int64(c.Count), 10)
	}
	if c.Record != "" {
		b = append(b, " record "...)
		b = strconv.AppendQuote(b, c.Record)
	}
	if c.Value != "" {
		b = append(b, ": "...)
		b = append(b, c.Value...)
	}
	return b
}

// parseCondition reads a condition's string (package doc).
func parseCondition(s string) (Condition, error) {
	var c Condition
	end := strings.IndexAny(s, " :")
	if end < 0 {
		end = len(s)
	}
	c.Kind, s = s[:end], s[end:]
	if c.Kind == "" {
		return c, errors.New("a condition without a kind")
	}
	for s != "" {
		var err error
		switch {
		case strings.HasPrefix(s, ": "):
			c.Value, s = s[2:], ""
		case strings.HasPrefix(s, " holds"):
			c.Holds, s = true, s[len(" holds"):]
		case strings.HasPrefix(s, " v"):
			var list string
			list, s = word(s[len(" v"):])
			for v := range strings.SplitSeq(list, ",") {
				n, perr := strconv.ParseUint(v, 10, 64)
				if perr != nil {
					return c, fmt.Errorf("data version %q: %w", v, perr)
				}
				c.Cite(n)
			}
		case strings.HasPrefix(s, " count "):
			var n string
			n, s = word(s[len(" count "):])
			c.Count, err = strconv.Atoi(n)
		case strings.HasPrefix(s, " record "):
			var q string
			if q, err = strconv.QuotedPrefix(s[len(" record "):]); err == nil {
				s = s[len(" record ")+len(q):]
				c.Record, err = strconv.Unquote(q)
			}
		default:
			return c, fmt.Errorf("condition %s: cannot read %q", c.Kind, s)
		}
		if err != nil {
			return c, fmt.Errorf("condition %s: %w", c.Kind, err)
		}
	}
	return c, nil
}

// word cuts s at the next space or colon.
func word(s string) (string, string) {
	if i := strings.IndexAny(s, " :"); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// UnmarshalJSON reads either form: the compact object or the long list of
// older records; null (an older record of a decision no rule was consulted
// for) is no trace.
func (t *Trace) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		*t = nil
		return nil
	}
	if len(data) > 0 && data[0] == '[' {
		var long []Rule
		if err := json.Unmarshal(data, &long); err != nil {
			return err
		}
		*t = long
		return nil
	}
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return fmt.Errorf("a trace is an object of rules: %s", clip(data))
	}
	out := Trace{}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return err
		}
		r := Rule{Rule: name.String(), Conditions: []Condition{}, Matched: true}
		if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '[' {
			return fmt.Errorf("rule %s: want a list of conditions", r.Rule)
		}
		for first := true; dec.PeekKind() != ']'; first = false {
			tok, err := dec.ReadToken()
			if err != nil {
				return fmt.Errorf("rule %s: %w", r.Rule, err)
			}
			if tok.Kind() != '"' {
				return fmt.Errorf("rule %s: a condition is a string, not %s", r.Rule, tok)
			}
			if first && tok.String() == monitorMark {
				r.Monitor = true
				continue
			}
			c, err := parseCondition(tok.String())
			if err != nil {
				return fmt.Errorf("rule %s: %w", r.Rule, err)
			}
			r.Matched = r.Matched && c.Holds
			r.Conditions = append(r.Conditions, c)
		}
		if _, err := dec.ReadToken(); err != nil { // ]
			return err
		}
		out = append(out, r)
	}
	if _, err := dec.ReadToken(); err != nil { // }
		return err
	}
	*t = out
	return nil
}

func clip(b []byte) []byte {
	if len(b) > 40 {
		return append(b[:40:40], "..."...)
	}
	return b
}
