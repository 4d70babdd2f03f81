package areacodes

import (
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	cases := []struct {
		npa         int
		country, st string
		zones       string
	}{
		{305, "US", "FL", "America/New_York"},
		{850, "US", "FL", "America/Chicago America/New_York"}, // the panhandle is Central
		{212, "US", "NY", "America/New_York"},
		{208, "US", "ID", "America/Boise America/Denver America/Los_Angeles"},
		{416, "CA", "ON", "America/Toronto"},
		{787, "PR", "PR", "America/Puerto_Rico"},
	}
	for _, tc := range cases {
		p, err := Lookup(tc.npa)
		if err != nil || p == nil {
			t.Fatalf("%d: %v %v", tc.npa, p, err)
		}
		if p.Country != tc.country || p.State != tc.st || strings.Join(p.ZoneNames, " ") != tc.zones ||
			len(p.Zones) != len(p.ZoneNames) || p.Zones[0].String() != p.ZoneNames[0] {
			t.Errorf("%d: %+v; want %s %s %s", tc.npa, p, tc.country, tc.st, tc.zones)
		}
	}
	for _, npa := range []int{800, 555, 100, -1, 1000} {
		if p, err := Lookup(npa); p != nil || err != nil {
			t.Errorf("%d: %+v, %v; want unknown", npa, p, err)
		}
	}
}

func TestUSZones(t *testing.T) {
	_, names, err := USZones()
	if err != nil {
		t.Fatal(err)
	}
	joined := " " + strings.Join(names, " ") + " "
	for _, z := range []string{"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu"} {
		if !strings.Contains(joined, " "+z+" ") {
			t.Errorf("US zones %v lack %s", names, z)
		}
	}
	if strings.Contains(joined, "America/Toronto") {
		t.Errorf("US zones %v hold a Canadian zone", names)
	}
}

func TestParseErrorsNameLine(t *testing.T) {
	cases := map[string]string{
		"# c\nnpa,country,state,time_zones\n305,US,FL,America/New_York\n12,US,FL,America/New_York\n": `areacodes.csv:4: area code "12" is not 200-999`,
		"# c\nnpa,country,state,time_zones\n305,US,FL,Mars/Olympus\n":                                "areacodes.csv:3: unknown time zone Mars/Olympus",
		"# c\nnpa,country,state,time_zones\n305,US,FL,\n":                                            "areacodes.csv:3: area code 305 has no time zone",
	}
	for text, want := range cases {
		if _, err := parse(text); err == nil || err.Error() != want {
			t.Errorf("got %v; want %s", err, want)
		}
	}
}
