// Package areacodes says where a NANP number rings: the country, state or
// province and time zones of its area code. Industry practice takes the area
// code as the called party's location; the data comes from libphonenumber's
// prefix files (see gen/, which regenerates areacodes.csv).
package areacodes

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	// The zone database ships inside the binary: a proxy's host may lack
	// /usr/share/zoneinfo, and a missing zone must not surface mid-call.
	_ "time/tzdata"
)

//go:generate sh -c "cd ../.. && go run ./policy/areacodes/gen > policy/areacodes/areacodes.csv"

//go:embed areacodes.csv
var areaCodesCSV string

// Place is what the area code tells about a number.
type Place struct {
	AreaCode string // "305"
	Country  string // ISO 3166 code: US, CA, PR, ...
	State    string // postal code (FL, ON); empty when the data names none
	// Zones holds every time zone the area code's exchanges lie in, sorted by name.
	Zones     []*time.Location
	ZoneNames []string
}

var table = sync.OnceValues(func() (*[1000]*Place, error) { return parse(areaCodesCSV) })

// Lookup returns the place of a three-digit area code (200-999), or nil when
// the data does not know it (toll-free and unassigned codes).
func Lookup(npa int) (*Place, error) {
	t, err := table()
	if err != nil || npa < 0 || npa > 999 {
		return nil, err
	}
	return t[npa], nil
}

// USZones is every time zone of an area code in the United States: where a
// US number of unknown area code may ring.
func USZones() ([]*time.Location, []string, error) {
	t, err := table()
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, p := range t {
		if p != nil && p.Country == "US" {
			for _, z := range p.ZoneNames {
				if !slices.Contains(names, z) {
					names = append(names, z)
				}
			}
		}
	}
	slices.Sort(names)
	zones := make([]*time.Location, len(names))
	for i, name := range names {
		if zones[i], err = time.LoadLocation(name); err != nil {
			return nil, nil, err
		}
	}
	return zones, names, nil
}

// HasState tells whether some area code rings in the state, territory or
// province of this postal code: the 50 states, DC, AS, GU, MP, PR, VI and
// the Canadian provinces. A code it does not know (XX, CN) can never match.
func HasState(code string) bool {
	t, err := table()
	if err != nil || code == "" {
		return false
	}
	for _, p := range t {
		if p != nil && p.State == code {
			return true
		}
	}
	return false
}

func parse(text string) (*[1000]*Place, error) {
	r := csv.NewReader(strings.NewReader(text))
	r.Comment = '#'
	r.FieldsPerRecord = 4
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("areacodes.csv: %w", err)
	}
	var t [1000]*Place
	zones := map[string]*time.Location{}
	for i, row := range rows[1:] { // rows[0] is the header
		line := i + 3 // after the comment and the header
		npa, err := strconv.Atoi(row[0])
		if err != nil || npa < 200 || npa > 999 {
			return nil, fmt.Errorf("areacodes.csv:%d: area code %q is not 200-999", line, row[0])
		}
		p := &Place{AreaCode: row[0], Country: row[1], State: row[2], ZoneNames: strings.Fields(row[3])}
		for _, name := range p.ZoneNames {
			loc, ok := zones[name]
			if !ok {
				if loc, err = time.LoadLocation(name); err != nil {
					return nil, fmt.Errorf("areacodes.csv:%d: %w", line, err)
				}
				zones[name] = loc
			}
			p.Zones = append(p.Zones, loc)
		}
		if len(p.Zones) == 0 {
			return nil, fmt.Errorf("areacodes.csv:%d: area code %s has no time zone", line, row[0])
		}
		t[npa] = p
	}
	return &t, nil
}
