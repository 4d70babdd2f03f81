package formats

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Day is a calendar date as the number YYYYMMDD (20261120), so that days
// compare as integers; 0 means no date.
type Day uint32

// DayOf returns the UTC day of t.
func DayOf(t time.Time) Day {
	y, m, d := t.UTC().Date()
	return Day(y*10000 + int(m)*100 + d)
}

// String shows the day as YYYY-MM-DD, or "" for no date.
func (d Day) String() string {
	if d == 0 {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d/10000, d/100%100, d%100)
}

// Time is the start of the day, UTC.
func (d Day) Time() time.Time {
	return time.Date(int(d/10000), time.Month(d/100%100), int(d%100), 0, 0, 0, 0, time.UTC)
}

// dateForms are the date forms change lists are seen with; a time of day
// after the date (space or T) is ignored.
var dateForms = []*regexp.Regexp{
	regexp.MustCompile(`^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:[ T].*)?$`),
	regexp.MustCompile(`^(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})(?:[ T].*)?$`),
	regexp.MustCompile(`^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})(?:[ T].*)?$`),
	regexp.MustCompile(`^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$`),
}

// ParseDay reads YYYY-MM-DD, YYYY/MM/DD, MM/DD/YYYY or YYYYMMDD, optionally
// followed by a time of day, and checks that the date exists.
func ParseDay(s string) (Day, error) {
	if d, ok := parseISODay(s); ok {
		return d, nil
	}
	for _, re := range dateForms {
		m := re.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		y, _ := strconv.Atoi(m[re.SubexpIndex("y")])
		mo, _ := strconv.Atoi(m[re.SubexpIndex("m")])
		d, _ := strconv.Atoi(m[re.SubexpIndex("d")])
		t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
		if t.Year() != y || int(t.Month()) != mo || t.Day() != d || y < 1900 {
			return 0, fmt.Errorf("%q is not a valid date", s)
		}
		return DayOf(t), nil
	}
	return 0, fmt.Errorf("%q is not a date (YYYY-MM-DD, MM/DD/YYYY or YYYYMMDD)", s)
}

// parseISODay is the fast path for the common YYYY-MM-DD (a regexp costs ~1 µs a line).
func parseISODay(s string) (Day, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	v := 0
	for i, c := range []byte(s) {
		if i == 4 || i == 7 {
			continue
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	y, m, d := v/10000, v/100%100, v%100
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if y < 1900 || t.Month() != time.Month(m) || t.Day() != d {
		return 0, false
	}
	return Day(v), true
}

// isDate tells whether s has the shape of a date, for column detection.
func isDate(s string) bool {
	_, err := ParseDay(s)
	return err == nil
}

// nameDate finds a date written into a file name: 2026-11-20, 2026_11_20 or 20261120.
var nameDate = regexp.MustCompile(`(?:^|[^0-9])((?:19|20)\d{2})[-_]?(\d{2})[-_]?(\d{2})(?:[^0-9]|$)`)

// DayInName returns the date a file name carries, as FTC downloads and
// vendors' exports often do (dnc-2026-11-20.zip, DNC_20261120.txt).
func DayInName(name string) (Day, bool) {
	m := nameDate.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	d, err := ParseDay(m[1] + "-" + m[2] + "-" + m[3])
	return d, err == nil
}
