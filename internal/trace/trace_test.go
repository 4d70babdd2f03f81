package trace

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// odd holds what a condition can carry: values with the form's own
// separators, quotes and newlines (a campaign or seller comes from a SIP
// header), several versions, a record id that needs quoting, a monitor rule
// and a rule without conditions.
var odd = Trace{
	{Rule: "internal-dnc", Conditions: []Condition{{Kind: "listed"}}},
	{Rule: "trial \"sunday\"", Monitor: true, Conditions: []Condition{{Kind: "campaign", Holds: true, Value: `spring: "v1" holds count 3 record "x"` + "\n"}, {Kind: "holiday", Value: "Sunday"}}},
	{Rule: "consent", Matched: true, Conditions: []Condition{{Kind: "consent", Holds: true, Value: "written", Version: 12, Record: `c-7 "b": v2`, Count: 3}}},
	{Rule: "dnc", Conditions: []Condition{{Kind: "listed", Versions: []uint64{7, 12, 31}}}},
	{Rule: "watch", Monitor: true, Matched: true, Conditions: []Condition{}},
	{Rule: "always", Matched: true, Conditions: []Condition{}},
	{Rule: "hours", Matched: true, Conditions: []Condition{{Kind: "dial_mode", Holds: true, Value: "automated"}, {Kind: "outside_hours", Holds: true, Value: "America/New_York"}}},
}

func TestCompactRoundTrip(t *testing.T) {
	b, err := json.Marshal(odd)
	if err != nil {
		t.Fatal(err)
	}
	var back Trace
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !reflect.DeepEqual(back, odd) {
		t.Errorf("read back\n%+v\nwant\n%+v\nfrom %s", back, odd, b)
	}
	// A reader without this package: a JSON object of rules, in order, with
	// lists of strings.
	var plain map[string][]string
	if err := json.Unmarshal(b, &plain); err != nil || len(plain) != len(odd) {
		t.Fatalf("%s is not an object of string lists: %v", b, err)
	}
	for want, got := range map[string]string{
		"internal-dnc": plain["internal-dnc"][0],
		`consent holds v12 count 3 record "c-7 \"b\": v2": written`: plain["consent"][0],
		"listed v7,12,31": plain["dnc"][0],
		"monitor":         plain["watch"][0],
	} {
		if want != got && !(want == "internal-dnc" && got == "listed") {
			t.Errorf("condition %q, want %q", got, want)
		}
	}
	if i, j := strings.Index(string(b), `"internal-dnc"`), strings.Index(string(b), `"hours"`); i < 0 || j < i {
		t.Errorf("rules out of order: %s", b)
	}
}

// The shipped policy's allowed decision: a short line, as the audit record holds it.
func TestCompactForm(t *testing.T) {
	tr := Trace{
		{Rule: "national-dnc", Conditions: []Condition{{Kind: "listed", Version: 1}}},
		{Rule: "mobile-automated-consent", Conditions: []Condition{{Kind: "dial_mode", Holds: true, Value: "automated"}, {Kind: "line_type", Value: "landline from block", Version: 2}}},
	}
	want := `{"national-dnc":["listed v1"],"mobile-automated-consent":["dial_mode holds: automated","line_type v2: landline from block"]}`
	if got := string(tr.AppendJSON(nil)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := string(Trace(nil).AppendJSON(nil)); got != "{}" {
		t.Errorf("an empty trace: %s", got)
	}
}

// Records written by builds up to 2026-11-29 hold the long form, with or
// without false fields.
func TestLongFormRead(t *testing.T) {
	long := `[{"rule":"internal-dnc","matched":false,"conditions":[{"kind":"listed","holds":false}]},` +
		`{"rule":"national-dnc","matched":true,"monitor":true,"conditions":[{"kind":"listed","holds":true,"value":"ftc","versions":[7,12]}]}]`
	var tr Trace
	if err := json.Unmarshal([]byte(long), &tr); err != nil {
		t.Fatal(err)
	}
	want := Trace{
		{Rule: "internal-dnc", Conditions: []Condition{{Kind: "listed"}}},
		{Rule: "national-dnc", Matched: true, Monitor: true, Conditions: []Condition{{Kind: "listed", Holds: true, Value: "ftc", Versions: []uint64{7, 12}}}},
	}
	if !reflect.DeepEqual(tr, want) {
		t.Errorf("got %+v", tr)
	}
}

// Older builds wrote "trace":null for a decision without one (an invalid
// number): no trace, and the rest of the record reads.
func TestNullTrace(t *testing.T) {
	var r struct {
		Trace Trace  `json:"trace"`
		Rule  string `json:"rule"`
	}
	if err := json.Unmarshal([]byte(`{"trace":null,"rule":"invalid-number"}`), &r); err != nil || r.Trace != nil || r.Rule != "invalid-number" {
		t.Errorf("read %+v, %v", r, err)
	}
}

func TestBadTraces(t *testing.T) {
	for _, bad := range []string{
		`"listed"`,
		`{"r":"listed"}`,
		`{"r":[1]}`,
		`{"r":[""]}`,
		`{"r":["listed vx"]}`,
		`{"r":["listed count x"]}`,
		`{"r":["listed record x"]}`,
		`{"r":["listed soon"]}`,
		`{"r":["listed"]`,
	} {
		var tr Trace
		if err := json.Unmarshal([]byte(bad), &tr); err == nil {
			t.Errorf("%s read as %+v", bad, tr)
		}
	}
}

// A trace read from any compact form writes out as one that reads back the
// same: what a reader sees is what the text says, values and record ids of
// any bytes included.
func FuzzTrace(f *testing.F) {
	f.Add([]byte(odd.AppendJSON(nil)))
	f.Add([]byte(`{"national-dnc":["listed holds v7: ftc","exempt holds: none: absent"],"federal-hours":["outside_hours: America/New_York"]}`))
	f.Add([]byte(`{"r":["monitor","consent holds v1,2 count 3 record \"a\\\"b\": written"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || data[0] != '{' {
			return // the long form is encoding/json's
		}
		var tr Trace
		if json.Unmarshal(data, &tr) != nil {
			return
		}
		out := tr.AppendJSON(nil)
		var back Trace
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%s reads, but its rewrite %s does not: %v", data, out, err)
		}
		if !reflect.DeepEqual(back, tr) && !(len(back) == 0 && len(tr) == 0) {
			t.Fatalf("%s reads as\n%+v\nits rewrite %s as\n%+v", data, tr, out, back)
		}
	})
}
