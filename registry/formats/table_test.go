package formats

import (
	"strings"
	"testing"
	"time"
)

func TestReadBlocksBothLayouts(t *testing.T) {
	read := func(text string, m Mapping) ([]Block, string, error) {
		var out []Block
		how, err := ReadBlocks(strings.NewReader(text), "f", m, func(b Block) error { out = append(out, b); return nil })
		return out, how, err
	}
	// A header (with a byte-order mark, quoted names), columns in another order, x left out.
	got, how, err := read("\ufeff\"STATE\",\"NXX\",\"NPA\",\"Kind\"\nny,555,212,Wireless\n", Mapping{"type": "Kind"})
	if err != nil || how != "blocks csv" || len(got) != 1 || got[0] != (Block{Exchange: 212555, X: -1, Type: Wireless, State: "NY"}) {
		t.Errorf("csv: %+v %q %v", got, how, err)
	}
	// VICIdial: NXX+X or NXX, comments skipped; --map type=5 moves the type column.
	got, how, err = read("# prefixes\n201,2001,T,C\n201,300,T,V\n", nil)
	if err != nil || how != "vicidial prefix file" || len(got) != 2 || got[0] != (Block{Exchange: 201200, X: 1, Type: Wireless}) || got[1].X != -1 || got[1].Type != VoIP {
		t.Errorf("vicidial: %+v %q %v", got, how, err)
	}
	if got, _, err = read("201,2001,T,x,P\n", Mapping{"type": "5"}); err != nil || got[0].Type != Pager {
		t.Errorf("vicidial with --map type=5: %+v %v", got, err)
	}
	for text, want := range map[string]string{
		"npa,nxx,type\n212,155,C\n":                `f:2: "212"-"155" is not an area code and exchange`,
		"npa,nxx,x,type\n212,555,10,C\n":           `f:2: x "10" is not a thousands digit 0-9`,
		"npa,nxx,type,state\n212,555,C,New York\n": `f:2: state "NEW YORK" is not a two-letter code`,
		"201,2001,T,C\n":                           "",
	} {
		if _, _, err := read(text, nil); (err == nil) != (want == "") || err != nil && !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v; want %q", text, err, want)
		}
	}
	if _, _, err := read("201,2001,T,C\n", Mapping{"type": "LTYPE"}); err == nil || !strings.Contains(err.Error(), "give the column's position") {
		t.Errorf("a name mapping in a file without a header: %v", err)
	}
}

func TestRowTimes(t *testing.T) {
	var times []time.Time
	err := ReadTable(strings.NewReader("when\n2026-03-04T10:00:00-05:00\n2026-03-04\n03/04/2026\n\n"), "f", []Column{{"when", true}}, nil, func(r *Row) error {
		at, err := r.Time("when", true)
		times = append(times, at)
		return err
	})
	want := []time.Time{time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC), time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)}
	if err != nil || len(times) != 3 || !times[0].Equal(want[0]) || !times[1].Equal(want[1]) || !times[2].Equal(want[2]) {
		t.Errorf("times: %v %v", times, err)
	}
	if m, err := ParseMapping([]string{"type"}); err == nil {
		t.Errorf("a mapping without '=': %v", m)
	}
}
