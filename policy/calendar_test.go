package policy

import "testing"

func TestHolidayParse(t *testing.T) {
	bad := map[string]string{
		"holidays:\n  us:\n    days:\n      x: june 31\n":                      `p.yaml:4:10: holidays: us: x: "june 31": June has no day 31`,
		"holidays:\n  us:\n    days:\n      x: fifth monday of may\n":          `p.yaml:4:10: holidays: us: x: "fifth monday of may" is not a date rule such as "january 1", "third monday of january", "last monday of may" or 2026-11-27`,
		"holidays:\n  us:\n    observed: always\n    days:\n      x: june 1\n": `p.yaml:3:15: holidays: us: observed "always" is not nearest_weekday or none`,
	}
	for preamble, want := range bad {
		if got := parseErr(preamble, "      holiday: us\n"); got != want {
			t.Errorf("%s got  %s\n want %s", preamble, got, want)
		}
	}
}
