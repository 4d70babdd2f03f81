package audit

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	now := time.Date(2031, 5, 2, 15, 30, 0, 0, ny)
	for _, tc := range []struct {
		in   string
		end  bool
		want time.Time
	}{
		{"2031-05-01T12:00:00Z", false, time.Date(2031, 5, 1, 12, 0, 0, 0, time.UTC)},
		{"2031-05-01T08:00:00-04:00", false, time.Date(2031, 5, 1, 12, 0, 0, 0, time.UTC)},
		{"2031-05-01 14:00", false, time.Date(2031, 5, 1, 14, 0, 0, 0, ny)},
		{"2031-05-01T14:00:05", false, time.Date(2031, 5, 1, 14, 0, 5, 0, ny)},
		{"2031-05-01", false, time.Date(2031, 5, 1, 0, 0, 0, 0, ny)},
		{"2031-05-01", true, time.Date(2031, 5, 2, 0, 0, 0, 0, ny)},
		{"today", false, time.Date(2031, 5, 2, 0, 0, 0, 0, ny)},
		{"today", true, time.Date(2031, 5, 3, 0, 0, 0, 0, ny)},
		{"yesterday", false, time.Date(2031, 5, 1, 0, 0, 0, 0, ny)},
		{"36h", false, now.Add(-36 * time.Hour)},
		{"7d", false, now.AddDate(0, 0, -7)},
	} {
		got, err := ParseTime(tc.in, ny, now, tc.end)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%q (end %v): %v, %v; want %v", tc.in, tc.end, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "May 1", "2031-13-01", "-5h"} {
		if _, err := ParseTime(bad, ny, now, false); err == nil {
			t.Errorf("%q passed", bad)
		}
	}
}
