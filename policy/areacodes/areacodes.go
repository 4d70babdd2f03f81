// Package areacodes says where a NANP number rings: the country, state or
// province and time zones of its area code, and whether the area code is in
// service at all. Industry practice takes the area code as the called
// party's location.
//
// The table, areacodes.csv, is the project's own: its rows start from
// libphonenumber's prefix data (nyaruka/phonenumbers; gen/ regenerates
// them), and a row with a source is one the project keeps against that data:
// an overlay code, which shares the zones of the codes it overlays (NANPA's
// NPA database names the overlay complexes), a code the library does not know
// yet, a non-geographic code (toll-free, 5XX, 900...), or a correction.
package areacodes

import (
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	// The zone database ships inside the binary: a proxy's host may lack
	// /usr/share/zoneinfo, and a missing zone must not surface mid-call.
	_ "time/tzdata"
)

//go:generate sh -c "cd ../.. && go run ./policy/areacodes/gen policy/areacodes/areacodes.csv"

//go:embed areacodes.csv
var areaCodesCSV string

// Place is what the area code tells about a number.
type Place struct {
	AreaCode string // "305"
	Country  string // ISO 3166 code: US, CA, PR, ...; empty for a non-geographic code
	State    string // postal code (FL, ON); empty when the data names none
	// Zones holds every time zone the area code's exchanges lie in, sorted by
	// name; empty for a non-geographic code (toll-free, 5XX, 900...), which
	// rings anywhere in the NANP.
	Zones     []*time.Location
	ZoneNames []string
	// Overlays lists the area codes this one overlays: it serves their area
	// and has their zones.
	Overlays []string
	// Source says where the row departs from libphonenumber's data; empty
	// when it does not.
	Source string
}

var table = sync.OnceValues(func() (*[1000]*Place, error) { return parse(areaCodesCSV) })

// Lookup returns the place of a three-digit area code (200-999), or nil when
// the area code is not in service (unassigned, reserved or out of range): no
// number in it can ring.
func Lookup(npa int) (*Place, error) {
	t, err := table()
	if err != nil || npa < 0 || npa > 999 {
		return nil, err
	}
	return t[npa], nil
}

// USZones is every time zone of an area code in the United States: where a
// US number of a non-geographic area code may ring.
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

// parse reads the table: npa,country,state,time_zones,overlays,source.
// An overlay row leaves time_zones empty and gets the union of the zones of
// the codes it overlays; a non-geographic row has neither country nor zones.
func parse(text string) (*[1000]*Place, error) {
	r := csv.NewReader(strings.NewReader(text))
	r.Comment = '#'
	r.FieldsPerRecord = 6
	var t [1000]*Place
	lines := map[*Place]int{}
	if _, err := r.Read(); err != nil { // the header
		return nil, fmt.Errorf("areacodes.csv: %w", err)
	}
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("areacodes.csv: %w", err)
		}
		line, _ := r.FieldPos(0)
		npa, err := strconv.Atoi(row[0])
		if err != nil || npa < 200 || npa > 999 {
			return nil, fmt.Errorf("areacodes.csv:%d: area code %q is not 200-999", line, row[0])
		}
		if t[npa] != nil {
			return nil, fmt.Errorf("areacodes.csv:%d: area code %s is given twice", line, row[0])
		}
		p := &Place{AreaCode: row[0], Country: row[1], State: row[2], ZoneNames: strings.Fields(row[3]),
			Overlays: strings.Fields(row[4]), Source: row[5]}
		switch {
		case len(p.Overlays) > 0 && len(p.ZoneNames) > 0:
			return nil, fmt.Errorf("areacodes.csv:%d: overlay %s takes the zones of %s; leave its time_zones empty", line, row[0], row[4])
		case len(p.Overlays) > 0 && p.Source == "":
			return nil, fmt.Errorf("areacodes.csv:%d: overlay %s names no source", line, row[0])
		case p.Country == "" && (p.Source == "" || len(p.ZoneNames) > 0 || len(p.Overlays) > 0):
			return nil, fmt.Errorf("areacodes.csv:%d: non-geographic area code %s wants a source and no zones", line, row[0])
		case p.Country != "" && len(p.ZoneNames) == 0 && len(p.Overlays) == 0:
			return nil, fmt.Errorf("areacodes.csv:%d: area code %s has no time zone", line, row[0])
		}
		t[npa], lines[p] = p, line
	}
	zones := map[string]*time.Location{}
	for _, p := range t {
		if p == nil {
			continue
		}
		if err := inherit(p, &t); err != nil {
			return nil, fmt.Errorf("areacodes.csv:%d: %w", lines[p], err)
		}
		for _, name := range p.ZoneNames {
			loc, ok := zones[name]
			if !ok {
				var err error
				if loc, err = time.LoadLocation(name); err != nil {
					return nil, fmt.Errorf("areacodes.csv:%d: %w", lines[p], err)
				}
				zones[name] = loc
			}
			p.Zones = append(p.Zones, loc)
		}
	}
	return &t, nil
}

// inherit gives an overlay the union of the zones of the codes it overlays,
// which must be geographic codes of the table that overlay nothing themselves.
func inherit(p *Place, t *[1000]*Place) error {
	for _, code := range p.Overlays {
		npa, err := strconv.Atoi(code)
		if err != nil || npa < 200 || npa > 999 || t[npa] == nil {
			return fmt.Errorf("overlay %s: %q is not an area code of the table", p.AreaCode, code)
		}
		parent := t[npa]
		if len(parent.Overlays) > 0 || parent.Country == "" {
			return fmt.Errorf("overlay %s: %s is itself an overlay or non-geographic; name the code it overlays", p.AreaCode, code)
		}
		for _, z := range parent.ZoneNames {
			if !slices.Contains(p.ZoneNames, z) {
				p.ZoneNames = append(p.ZoneNames, z)
			}
		}
	}
	slices.Sort(p.ZoneNames)
	return nil
}
