// Command gen rewrites areacodes.csv after an upgrade of nyaruka/phonenumbers:
// for every NANP area code the library knows, the country, the state or
// province and the time zones of its numbers, from libphonenumber's
// geocoding and time-zone prefix files. A row of the table that names a
// source is the project's own (an overlay, a code the library does not know,
// a non-geographic code, a correction) and is kept as it is. Run it from the
// repository root and review the diff:
//
//	go run ./policy/areacodes/gen policy/areacodes/areacodes.csv
//
// The zones of an area code are the union of the zones of its exchanges
// (NPA-NXX), so an area code that straddles a zone line lists both zones.
// The state is the one most of its exchanges are geocoded to; the table
// below turns libphonenumber's English place names into postal codes.
package main

import (
	"encoding/csv"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// postalCodes maps the state, district, territory and province names of
// libphonenumber's English geocoding data to USPS and Canada Post codes.
var postalCodes = map[string]string{
	"Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
	"Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC",
	"Washington D.C.": "DC", "Washington, DC": "DC", "Florida": "FL", "Georgia": "GA", "Hawaii": "HI",
	"Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY",
	"Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI",
	"Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE",
	"Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY",
	"North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR",
	"Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD",
	"Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA",
	"Washington": "WA", "Washington State": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
	"Puerto Rico": "PR", "Guam": "GU", "American Samoa": "AS", "Northern Mariana Islands": "MP",
	"US Virgin Islands": "VI", "U.S. Virgin Islands": "VI",
	"Alberta": "AB", "British Columbia": "BC", "Manitoba": "MB", "New Brunswick": "NB",
	"Newfoundland and Labrador": "NL", "Nova Scotia": "NS", "Northwest Territories": "NT",
	"Nunavut": "NU", "Ontario": "ON", "Prince Edward Island": "PE", "Quebec": "QC", "Québec": "QC",
	"Saskatchewan": "SK", "Yukon": "YT",
}

// postalCodeOf reads a place name as "State" or "City, ST".
func postalCodeOf(place string) string {
	if code, ok := postalCodes[place]; ok {
		return code
	}
	if _, st, ok := strings.Cut(place, ", "); ok && len(st) == 2 && strings.ToUpper(st) == st {
		return st
	}
	return ""
}

// header explains the table to its readers; gen writes it on top.
const header = `# NANP area codes: where a number rings. Written by go run ./policy/areacodes/gen
# from nyaruka/phonenumbers' prefix data, except rows with a source, which the project keeps.
# npa: area code; country: ISO 3166 (empty: non-geographic, rings anywhere in the NANP);
# state: USPS or Canada Post code; time_zones: IANA zones of its exchanges;
# overlays: the area codes an overlay code shares its area with: it takes their zones
# (NANPA NPA database, npa_report.csv of 2025-11-26, OVERLAY_COMPLEX);
# source: why the row departs from the library's data.
# A code not listed is not in service (NANPA): no number in it can ring.
`

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./policy/areacodes/gen policy/areacodes/areacodes.csv")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	kept, err := projectRows(path)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(header)
	w := csv.NewWriter(&b)
	w.Write([]string{"npa", "country", "state", "time_zones", "overlays", "source"})
	for npa := 200; npa <= 999; npa++ {
		if row, ok := kept[npa]; ok {
			w.Write(row)
			continue
		}
		row, err := libraryRow(npa)
		if err != nil {
			return err
		}
		if row != nil {
			w.Write(row)
		}
	}
	if w.Flush(); w.Error() != nil {
		return w.Error()
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// projectRows reads the rows of the table that name a source.
func projectRows(path string) (map[int][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	r.FieldsPerRecord = 6
	rows, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	kept := map[int][]string{}
	for _, row := range rows[1:] {
		if npa, err := strconv.Atoi(row[0]); err == nil && row[5] != "" {
			kept[npa] = row
		}
	}
	return kept, nil
}

// libraryRow is what libphonenumber knows of an area code, nil if nothing.
func libraryRow(npa int) ([]string, error) {
	zones := map[string]bool{}
	votes := map[string]int{}
	country := ""
	for nxx := 200; nxx <= 999; nxx++ {
		prefix := fmt.Sprintf("+1%d%d", npa, nxx)
		tz, err := phonenumbers.GetTimezonesForPrefix(prefix)
		if err != nil {
			return nil, err
		}
		// Prefixes the data does not know fall back to country code 1,
		// which names every zone of the NANP: no information.
		if len(tz) == 1 && tz[0] != phonenumbers.UNKNOWN_TIMEZONE {
			zones[tz[0]] = true
		} else if len(tz) > 1 && len(tz) < 8 {
			for _, z := range tz {
				zones[z] = true
			}
		}
		num, err := phonenumbers.Parse(prefix+"0000", "US")
		if err != nil || !phonenumbers.IsValidNumber(num) {
			continue
		}
		country = phonenumbers.GetRegionCodeForNumber(num)
		place, _ := phonenumbers.GetGeocodingForNumber(num, "en")
		if st := postalCodeOf(place); st != "" {
			votes[st]++
		}
	}
	if country == "" || len(zones) == 0 {
		return nil, nil
	}
	state, most := "", 0
	for _, st := range slices.Sorted(maps.Keys(votes)) {
		if votes[st] > most {
			state, most = st, votes[st]
		}
	}
	return []string{strconv.Itoa(npa), country, state, strings.Join(slices.Sorted(maps.Keys(zones)), " "), "", ""}, nil
}
