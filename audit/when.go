package audit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// whenLayouts are the local-time forms ParseTime reads besides RFC 3339;
// time.DateOnly is the one that names a whole day.
var whenLayouts = []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", time.DateOnly}

// ParseTime reads a time as a person types it: RFC 3339; a date and time
// without a zone, in zone; a date (its start, or for an end its day's end:
// the next midnight); today, yesterday; or an age (90m, 36h, 7d) before now.
func ParseTime(s string, zone *time.Location, now time.Time, end bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	midnight := func(t time.Time) time.Time {
		y, m, d := t.In(zone).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, zone)
	}
	switch s {
	case "today", "yesterday":
		day := midnight(now)
		if s == "yesterday" {
			day = day.AddDate(0, 0, -1)
		}
		if end {
			day = day.AddDate(0, 0, 1)
		}
		return day, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range whenLayouts {
		if t, err := time.ParseInLocation(layout, s, zone); err == nil {
			if layout == time.DateOnly && end {
				t = t.AddDate(0, 0, 1)
			}
			return t, nil
		}
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: want a date (2031-05-01), a local time (2031-05-01 14:00), RFC 3339 (2031-05-01T18:00:00Z), today, yesterday or an age (36h, 7d)", s)
}
