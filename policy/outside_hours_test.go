package policy

import "testing"

func TestOutsideHours(t *testing.T) {
	match := "      outside_hours: {mon-fri: \"09:00-18:00\", sat: \"10:00-17:00\", sun: closed}\n"
	cases := []struct {
		to, at string
		holds  bool
		value  string
	}{
		{"+12125550143", "2026-04-08T08:59:00-04:00", true, "America/New_York"}, // Wednesday
		{"+12125550143", "2026-04-08T09:00:00-04:00", false, "America/New_York"},
		{"+12125550143", "2026-04-08T18:00:00-04:00", true, "America/New_York"},
		{"+12125550143", "2026-04-11T16:59:00-04:00", false, "America/New_York"}, // Saturday
		{"+12125550143", "2026-04-12T12:00:00-04:00", true, "America/New_York"},  // Sunday
		// 850 spans Central and Eastern: 17:30 CDT is 18:30 EDT.
		{"+18505550143", "2026-04-08T17:30:00-05:00", true, "America/New_York"},
		{"+18005550143", "2026-04-08T12:00:00-04:00", true, "America/Adak"}, // toll free: every US zone; 07:00 on the Aleutians
		{"+442079460000", "2026-04-08T03:00:00Z", false, noTimeZone},
	}
	for _, tc := range cases {
		c := call(tc.to)
		c.Time = at(tc.at)
		matched, trace := evalOne(t, "", match, c, nil)
		if matched != tc.holds || trace[0].Value != tc.value {
			t.Errorf("%s at %s: %v %+v; want %v %q", tc.to, tc.at, matched, trace, tc.holds, tc.value)
		}
	}
}

// TestOutsideHoursOverlay: an overlay code has the zones of the code it
// overlays; 458 and 541 span Pacific and Mountain time, 503 only Pacific.
func TestOutsideHoursOverlay(t *testing.T) {
	match := "      outside_hours: {daily: \"08:00-21:00\"}\n"
	cases := []struct {
		to    string
		holds bool
		value string
	}{
		{"+14585550143", true, "America/Denver"},
		{"+15415550143", true, "America/Denver"},
		{"+15035550143", false, "America/Los_Angeles"},
		{"+19305550143", false, "America/Chicago"}, // overlays 812: Central and Eastern
	}
	for _, tc := range cases {
		c := call(tc.to)
		c.Time = at("2026-04-08T21:30:00-06:00") // 21:30 Mountain, 20:30 Pacific
		if tc.to == "+19305550143" {
			c.Time = at("2026-04-08T20:30:00-04:00") // 20:30 Eastern, 19:30 Central
		}
		matched, trace := evalOne(t, "", match, c, nil)
		if matched != tc.holds || trace[0].Value != tc.value {
			t.Errorf("%s: %v %+v; want %v %q", tc.to, matched, trace, tc.holds, tc.value)
		}
	}
}

func TestOutsideHoursParse(t *testing.T) {
	bad := map[string]string{
		"      outside_hours: daily\n":                                       `p.yaml:4:22: outside_hours: want hours per weekday, e.g. {daily: "08:00-21:00"} or {mon-sat: "08:00-20:00", sun: closed}`,
		"      outside_hours: {mon-fri: \"09:00-18:00\"}\n":                  "p.yaml:4:22: outside_hours: no hours for sat, sun; write closed for a day without calls",
		"      outside_hours: {daily: \"09:00-18:00\", sun: closed}\n":       "p.yaml:4:45: outside_hours: sun is already given at line 4",
		"      outside_hours: {daily: \"9-18\"}\n":                           `p.yaml:4:30: outside_hours: "9-18" is not a window such as "08:00-21:00", nor closed`,
		"      outside_hours: {daily: \"18:00-09:00\"}\n":                    `p.yaml:4:30: outside_hours: window "18:00-09:00" closes before it opens`,
		"      outside_hours: {fri-mon: closed, tue-thu: \"09:00-18:00\"}\n": `p.yaml:4:23: outside_hours: "fri-mon" runs backwards; weeks run mon to sun`,
		"      outside_hours: {weekdays: closed}\n":                          `p.yaml:4:23: outside_hours: "weekdays" is not daily, a day (mon, tue, wed, thu, fri, sat, sun) or a range such as mon-fri`,
	}
	for match, want := range bad {
		if got := parseErr("", match); got != want {
			t.Errorf("%s got  %s\n want %s", match, got, want)
		}
	}
}
