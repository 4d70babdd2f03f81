package policy

import "testing"

const holidayPreamble = `holidays:
  us:
    observed: nearest_weekday
    days:
      independence-day: july 4
      thanksgiving: fourth thursday of november
      memorial-day: last monday of may
      one-off: 2026-04-08
  plain:
    days:
      independence-day: july 4
`

func TestHolidayCalendar(t *testing.T) {
	cases := []struct {
		cal, at string
		holds   bool
		value   string
	}{
		{"us", "2026-07-04T12:00:00-04:00", true, "independence-day"}, // a Saturday
		{"us", "2026-07-03T12:00:00-04:00", true, "independence-day (observed)"},
		{"plain", "2026-07-03T12:00:00-04:00", false, ""},
		{"us", "2027-07-05T12:00:00-04:00", true, "independence-day (observed)"}, // Sunday 4 July 2027
		{"us", "2026-11-26T12:00:00-05:00", true, "thanksgiving"},
		{"us", "2026-11-19T12:00:00-05:00", false, ""},
		{"us", "2026-05-25T12:00:00-04:00", true, "memorial-day"},
		{"us", "2026-04-08T12:00:00-04:00", true, "one-off"},
		{"us", "2026-07-05T01:00:00Z", true, "independence-day"}, // still 4 July in New York
	}
	for _, tc := range cases {
		c := call("+12125550143")
		c.Time = at(tc.at)
		matched, trace := evalOne(t, holidayPreamble, "      holiday: "+tc.cal+"\n", c, nil)
		if matched != tc.holds || trace[0].Value != tc.value {
			t.Errorf("%s %s: %v %+v; want %v %q", tc.cal, tc.at, matched, trace, tc.holds, tc.value)
		}
	}
}

func TestHolidayUndeclaredCalendar(t *testing.T) {
	if got, want := parseErr("", "      holiday: us\n"), `p.yaml:4:16: holiday calendar "us" is not declared under holidays:`; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}
