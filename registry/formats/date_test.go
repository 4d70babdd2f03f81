package formats

import "testing"

func TestParseDay(t *testing.T) {
	for s, want := range map[string]Day{
		"2026-11-20": 20261120, "2026/11/20": 20261120, "11/20/2026": 20261120, "1/2/2026": 20260102,
		"20261120": 20261120, "2026-11-20T08:00:00Z": 20261120, "2024-02-29": 20240229,
	} {
		if got, err := ParseDay(s); err != nil || got != want {
			t.Errorf("ParseDay(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"2026-02-30", "2026-13-01", "20261320", "yesterday", "2026-1120", ""} {
		if d, err := ParseDay(s); err == nil {
			t.Errorf("ParseDay(%q) = %v; want an error", s, d)
		}
	}
	if Day(20261120).String() != "2026-11-20" || Day(0).String() != "" {
		t.Error("Day.String")
	}
}

func TestDayInName(t *testing.T) {
	for name, want := range map[string]Day{
		"/srv/ftc/dnc-2026-11-20.zip": 20261120, "DNC_20261120.txt": 20261120, "changes_2026_11_20.csv": 20261120,
		"202.txt": 0, "list-123456789.txt": 0, "x-20261399.txt": 0,
	} {
		got, ok := DayInName(name)
		if got != want || ok != (want != 0) {
			t.Errorf("DayInName(%q) = %v, %v; want %v", name, got, ok, want)
		}
	}
}
