package areacodes

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
)

func TestLookup(t *testing.T) {
	cases := []struct {
		npa         int
		country, st string
		zones       string
	}{
		{305, "US", "FL", "America/New_York"},
		{850, "US", "FL", "America/Chicago America/New_York"}, // the panhandle is Central
		{448, "US", "FL", "America/Chicago America/New_York"}, // overlays 850
		{689, "US", "FL", "America/New_York"},                 // overlays 407; the library says Central
		{212, "US", "NY", "America/New_York"},
		{208, "US", "ID", "America/Boise America/Denver America/Los_Angeles"},
		{541, "US", "OR", "America/Denver America/Los_Angeles"},
		{458, "US", "OR", "America/Denver America/Los_Angeles"}, // overlays 541; the library says Pacific only
		{930, "US", "IN", "America/Chicago America/New_York"},   // overlays 812
		{465, "US", "NY", "America/New_York"},                   // overlays 718; not in the library yet
		{907, "US", "AK", "America/Adak America/Anchorage America/Juneau"},
		{416, "CA", "ON", "America/Toronto"},
		{474, "CA", "SK", "America/Regina"}, // overlays 306; the library says Winnipeg
		{787, "PR", "PR", "America/Puerto_Rico"},
		{876, "JM", "", "America/Jamaica"},
		{800, "", "", ""}, // toll-free: in service, rings anywhere
		{566, "", "", ""},
	}
	for _, tc := range cases {
		p, err := Lookup(tc.npa)
		if err != nil || p == nil {
			t.Fatalf("%d: %v %v", tc.npa, p, err)
		}
		if p.Country != tc.country || p.State != tc.st || strings.Join(p.ZoneNames, " ") != tc.zones ||
			len(p.Zones) != len(p.ZoneNames) || len(p.Zones) > 0 && p.Zones[0].String() != p.ZoneNames[0] {
			t.Errorf("%d: %+v; want %s %s %s", tc.npa, p, tc.country, tc.st, tc.zones)
		}
	}
	// Not in service: N11, reserved, unassigned, set aside for toll-free, out of range.
	for _, npa := range []int{411, 911, 555, 290, 370, 965, 456, 822, 880, 221, 100, -1, 1000} {
		if p, err := Lookup(npa); p != nil || err != nil {
			t.Errorf("%d: %+v, %v; want not in service", npa, p, err)
		}
	}
}

// clock names the civil time a zone keeps in 2026 as its UTC offsets in
// January and July ("-5/-4" is Eastern): zones that differ only in their
// history (America/Boise, America/Denver) keep the same clock.
func clock(loc *time.Location) string {
	hours := func(month time.Month) string {
		_, offset := time.Date(2026, month, 15, 12, 0, 0, 0, time.UTC).In(loc).Zone()
		return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(offset)/3600), ".0")
	}
	return hours(time.January) + "/" + hours(time.July)
}

// Civil times of the NANP, by the clock they keep.
var (
	eastern      = "-5/-4"
	central      = "-6/-5"
	mountain     = "-7/-6"
	mountainYear = "-7/-7" // no daylight saving: Arizona, northeast British Columbia, Yukon
	pacific      = "-8/-7"
	alaska       = "-9/-8"
	aleutian     = "-10/-9" // Hawaii-Aleutian with daylight saving: west of 169°30' W
	hawaii       = "-10/-10"
	atlantic     = "-4/-3"
	atlanticYear = "-4/-4" // Puerto Rico, the US Virgin Islands, Blanc-Sablon
	newfoundland = "-3.5/-2.5"
	centralYear  = "-6/-6" // Saskatchewan
	easternYear  = "-5/-5" // Atikokan, Ontario
	chamorro     = "10/10"
	samoa        = "-11/-11"
)

// regionClocks is every civil time kept in each state, territory and
// province (49 CFR part 71 for the US zone boundaries; tz zone.tab for where
// daylight saving is not kept; Canada's provincial time acts).
var regionClocks = map[string][]string{
	"AL": {central}, "AK": {alaska, aleutian}, "AZ": {mountainYear, mountain}, // the Navajo Nation keeps daylight saving
	"AR": {central}, "CA": {pacific}, "CO": {mountain}, "CT": {eastern}, "DE": {eastern}, "DC": {eastern},
	"FL": {eastern, central}, "GA": {eastern}, "HI": {hawaii}, "ID": {mountain, pacific}, "IL": {central},
	"IN": {eastern, central}, "IA": {central}, "KS": {central, mountain}, "KY": {eastern, central},
	"LA": {central}, "ME": {eastern}, "MD": {eastern}, "MA": {eastern}, "MI": {eastern, central},
	"MN": {central}, "MS": {central}, "MO": {central}, "MT": {mountain}, "NE": {central, mountain},
	"NV": {pacific, mountain}, "NH": {eastern}, "NJ": {eastern}, "NM": {mountain}, "NY": {eastern},
	"NC": {eastern}, "ND": {central, mountain}, "OH": {eastern}, "OK": {central}, "OR": {pacific, mountain},
	"PA": {eastern}, "RI": {eastern}, "SC": {eastern}, "SD": {central, mountain}, "TN": {eastern, central},
	"TX": {central, mountain}, "UT": {mountain}, "VT": {eastern}, "VA": {eastern}, "WA": {pacific},
	"WV": {eastern}, "WI": {central}, "WY": {mountain},
	"PR": {atlanticYear}, "VI": {atlanticYear}, "GU": {chamorro}, "MP": {chamorro}, "AS": {samoa},
	"AB": {mountain}, "BC": {pacific, mountain, mountainYear}, "MB": {central}, "SK": {centralYear, mountain},
	"ON": {eastern, central, easternYear}, "QC": {eastern, atlantic, atlanticYear}, "NB": {atlantic},
	"NS": {atlantic}, "PE": {atlantic}, "NL": {newfoundland, atlantic, atlanticYear},
	// 867 serves Yukon, the Northwest Territories and Nunavut.
	"NT": {mountainYear, mountain, central, eastern},
}

// TestEveryAreaCode walks every area code 200-999: no code the NANP's
// format rules forbid is in service; every geographic code's zones are
// civil times its state keeps; an overlay has the zones and the state of the
// codes it overlays; every civil time a US state keeps is some area code's.
func TestEveryAreaCode(t *testing.T) {
	stateClocks := map[string]map[string]bool{} // US states: the clocks their area codes name
	inService := 0
	for npa := 200; npa <= 999; npa++ {
		p, err := Lookup(npa)
		if err != nil {
			t.Fatal(err)
		}
		if p == nil {
			continue
		}
		inService++
		if err := number.CheckExchange(uint32(npa*1000 + 555)); err != nil {
			t.Errorf("%d is in the table, but %v", npa, err)
		}
		if p.Country == "" {
			if p.State != "" || len(p.Zones) > 0 || p.Source == "" {
				t.Errorf("%d: non-geographic code %+v has a state or zones or no source", npa, p)
			}
			continue
		}
		for _, code := range p.Overlays {
			n, _ := strconv.Atoi(code)
			q, _ := Lookup(n)
			if q.State != p.State || q.Country != p.Country {
				t.Errorf("%d overlays %s but is in %s %s, not %s %s", npa, code, p.Country, p.State, q.Country, q.State)
			}
			for _, z := range q.ZoneNames {
				if !slices.Contains(p.ZoneNames, z) {
					t.Errorf("%d overlays %s but lacks its zone %s: %v", npa, code, z, p.ZoneNames)
				}
			}
		}
		if p.Country != "US" && p.Country != "CA" && p.Country != "PR" && p.Country != "VI" &&
			p.Country != "GU" && p.Country != "MP" && p.Country != "AS" {
			continue // the other NANP countries have no states
		}
		clocks, ok := regionClocks[p.State]
		if !ok {
			t.Errorf("%d: %s %q is not a known state or province", npa, p.Country, p.State)
			continue
		}
		for _, z := range p.Zones {
			if !slices.Contains(clocks, clock(z)) {
				t.Errorf("%d (%s): zone %s keeps %s, a time %s does not keep (%v)", npa, p.State, z, clock(z), p.State, clocks)
			}
			if p.Country == "US" {
				if stateClocks[p.State] == nil {
					stateClocks[p.State] = map[string]bool{}
				}
				stateClocks[p.State][clock(z)] = true
			}
		}
	}
	for st, clocks := range regionClocks {
		if _, us := stateClocks[st]; !us {
			continue // a province or a territory with its own country code
		}
		for _, c := range clocks {
			if !stateClocks[st][c] {
				t.Errorf("%s keeps %s, but none of its area codes has a zone keeping it", st, c)
			}
		}
	}
	if inService < 450 {
		t.Errorf("%d area codes in service; the NANP has more than 450", inService)
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
	const head = "# c\n# d\nnpa,country,state,time_zones,overlays,source\n"
	cases := map[string]string{
		"305,US,FL,America/New_York,,\n12,US,FL,America/New_York,,\n":              `areacodes.csv:5: area code "12" is not 200-999`,
		"305,US,FL,Mars/Olympus,,\n":                                               "areacodes.csv:4: unknown time zone Mars/Olympus",
		"305,US,FL,,,\n":                                                           "areacodes.csv:4: area code 305 has no time zone",
		"305,US,FL,America/New_York,,\n305,US,FL,America/New_York,,\n":             "areacodes.csv:5: area code 305 is given twice",
		"458,US,OR,America/Denver,541,NANPA\n":                                     "areacodes.csv:4: overlay 458 takes the zones of 541; leave its time_zones empty",
		"458,US,OR,,541,\n":                                                        "areacodes.csv:4: overlay 458 names no source",
		"458,US,OR,,541,NANPA\n":                                                   `areacodes.csv:4: overlay 458: "541" is not an area code of the table`,
		"541,US,OR,America/Denver,,\n458,US,OR,,541,NANPA\n971,US,OR,,458,NANPA\n": "areacodes.csv:6: overlay 971: 458 is itself an overlay or non-geographic; name the code it overlays",
		"800,,,,,\n": "areacodes.csv:4: non-geographic area code 800 wants a source and no zones",
	}
	for text, want := range cases {
		if _, err := parse(head + text); err == nil || err.Error() != want {
			t.Errorf("%q: got %v; want %s", text, err, want)
		}
	}
}
