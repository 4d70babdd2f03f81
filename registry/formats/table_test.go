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
	err := ReadTable(strings.NewReader("when\n2026-03-04T10:00:00-05:00\n2026-03-04\n03/04/2026\n\n"), "f", []Column{{Name: "when", Required: true}}, nil, func(r *Row) error {
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

// The names the field's files give the columns are recognized without --map,
// compared without case, spaces and punctuation.
func TestTableHeadersByTheirCommonNames(t *testing.T) {
	blocks := []struct {
		text string
		want []Block
	}{
		{"areacode,prefix,source,type\n202,5550,T,C\n202,556,T,S\n", // VICIdial's prefix file with its header
			[]Block{{Exchange: 202555, X: 0, Type: Wireless}, {Exchange: 202556, X: -1, Type: Landline}}},
		{"Area Code,Exchange,Block_ID,LTYPE,ST\n202,555,1,landline,dc\n202,557,,wireless,DC\n",
			[]Block{{Exchange: 202555, X: 1, Type: Landline, State: "DC"}, {Exchange: 202557, X: -1, Type: Wireless, State: "DC"}}},
		{"NPA-NXX,X,Type\n202-555,3,V\n202558,,M\n",
			[]Block{{Exchange: 202555, X: 3, Type: VoIP}, {Exchange: 202558, X: -1, Type: Mixed}}},
		{"State,NPA-NXX-X,Line Type\nNY,212-555-4,P\n", []Block{{Exchange: 212555, X: 4, Type: Pager, State: "NY"}}},
	}
	for _, tc := range blocks {
		var got []Block
		how, err := ReadBlocks(strings.NewReader(tc.text), "f", nil, func(b Block) error { got = append(got, b); return nil })
		if err != nil || how != "blocks csv" || len(got) != len(tc.want) {
			t.Errorf("%q: %+v %q %v", tc.text, got, how, err)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q row %d: %+v, want %+v", tc.text, i+1, got[i], tc.want[i])
			}
		}
	}

	var c Consent
	err := ReadConsents(strings.NewReader("Phone Number,Company,Campaign ID,Consent Type,Opt-In Date,Expiration Date,Opt-Out Date,Proof\n"+
		"(202) 555-0143,acme,spring,Written,2026-01-02,2027-01-02,,form 7\n"), "f", nil, func(got Consent) error { c = got; return nil })
	if err != nil || c.Number.Exchange != 202555 || c.Seller != "acme" || c.Campaign != "spring" || c.Kind != "written" ||
		c.GrantedAt.Format(time.DateOnly) != "2026-01-02" || c.ExpiresAt.Format(time.DateOnly) != "2027-01-02" || !c.RevokedAt.IsZero() || c.Evidence != "form 7" {
		t.Errorf("consent: %+v %v", c, err)
	}
	var a RNDAnswer
	err = ReadRND(strings.NewReader("TN,Date Provided,Result\n2025550143,2026-01-02,No Data\n"), "f", nil, func(got RNDAnswer) error { a = got; return nil })
	if err != nil || a.Number.Line != 143 || a.AskedOn.Format(time.DateOnly) != "2026-01-02" || a.Answer != "no_data" {
		t.Errorf("rnd: %+v %v", a, err)
	}
	var e Exemption
	err = ReadExemptions(strings.NewReader("Telephone,Company,Relationship,Last Transaction Date\n2025550143,acme,purchase,2026-01-02\n"), "f", nil, func(got Exemption) error { e = got; return nil })
	if err != nil || e.Number.Line != 143 || e.Seller != "acme" || e.Kind != "purchase" || e.Date.Format(time.DateOnly) != "2026-01-02" {
		t.Errorf("ebr: %+v %v", e, err)
	}

	// The standard name wins over an alias; two aliases of one column are refused, not guessed between.
	err = ReadExemptions(strings.NewReader("phone,number,seller,kind,date\nx,2025550143,acme,purchase,2026-01-02\n"), "f", nil, func(got Exemption) error { e = got; return nil })
	if err != nil || e.Number.Line != 143 {
		t.Errorf("number beside phone: %+v %v", e, err)
	}
	for text, want := range map[string]string{
		"phone,mobile,seller,kind,date\n":     `f:1: columns 1 (phone) and 2 (mobile) could both be the number column; say which with --map number=COLUMN`,
		"npa,type\n202,C\n":                   `f:1: the header has no column "nxx" (or exchange, exchange_code, nxx_code, co_code, central_office_code), nor prefix or npa-nxx or npa-nxx-x (it has npa,type)`,
		"npa-nxx,type\n202-55,C\n":            `f:2: npa-nxx "202-55" is not NPA-NXX (6 digits)`,
		"areacode,prefix,type\n202,55555,C\n": `f:2: prefix "55555" is not NXX or NXX+X (3 or 4 digits)`,
	} {
		var err error
		if strings.HasPrefix(text, "phone") {
			err = ReadExemptions(strings.NewReader(text), "f", nil, func(Exemption) error { return nil })
		} else {
			_, err = ReadBlocks(strings.NewReader(text), "f", nil, func(Block) error { return nil })
		}
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v; want %q", text, err, want)
		}
	}
	if err := ReadTable(strings.NewReader(""), "f", BlockColumns, nil, nil); err == nil || !strings.HasSuffix(err.Error(), "e.g. npa,nxx,x,type,state") {
		t.Errorf("empty blocks file: %v", err)
	}
}

// No header name may name two columns of one kind of file.
func TestColumnNamesAreUnambiguous(t *testing.T) {
	for kind, columns := range map[string][]Column{"blocks": BlockColumns, "consent": ConsentColumns, "rnd": RNDColumns, "ebr": EBRColumns} {
		owner := map[string]string{}
		for _, c := range columns {
			for _, n := range append([]string{c.Name}, c.Aliases...) {
				name := headerName([]byte(n))
				if o, ok := owner[name]; ok && o != c.Name {
					t.Errorf("%s: %q names both %s and %s", kind, n, o, c.Name)
				}
				owner[name] = c.Name
			}
		}
	}
}
