package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/gatekeeper-sip/gatekeeper/internal/trace"
)

// fullRecord sets every field, with values that need escaping.
func fullRecord(i int) Record {
	return Record{
		Time:          time.Date(2031, 1, 2, 3, 4, 5, 6+i, time.UTC),
		CallID:        "a84b4c76e66710@pc33.atlanta.example.com",
		Decision:      "allow",
		Rule:          `dnc "internal"`,
		Status:        200,
		Reason:        "listed\ton <internal> & \\national\\\n\x01",
		Called:        "+12025550143",
		RoutingNumber: "+12025550000",
		Caller:        "+13125550100",
		Dialer:        "predictive",
		Campaign:      "spring-\u00e9t\u00e9-\U0001F4DE",
		Seller:        "Acme \"Home\" Services",
		Source:        "127.0.0.1:5080",
		Prerecorded:   true,
		Mode:          "enforce",
		DialMode:      "automated",
		Monitor:       true,
		Would:         Would{Decision: "reject", Status: 603, Reason: "Decline <internal>"},
		Error:         "registry: read \xff\xfe",
		CalledPlace:   json.RawMessage(`{"area_code":"202","state":"DC","time_zones":["America/New_York"],"local_time":"2031-01-01T22:04:05-05:00"}`),
		Trace:         json.RawMessage(`[{"rule":"internal-dnc","matched":true,"conditions":[{"kind":"listed","holds":true,"value":"internal","version":7}]}]`),
		PolicySHA256:  strings.Repeat("ab", 32),
		Version:       "v1.2.3",
	}
}

// served are the records a served gatekeeper wrote under the shipped policy
// (configs/policy.yaml, the embedded gatekeeper.yaml's dialer, SIPp as the
// dialer and carrier; testdata/served.jsonl): the imports of the national
// list and the line-type blocks, an allowed call's decision and its
// outcome, a call rejected for the national registry and one outside the
// federal calling hours. The e2e test
// TestShippedPolicyRejectsNationalDNCAndAllowsClean checks that a served
// call still writes records of their shape.
var served = func() (recs [6]Record) {
	data, err := os.ReadFile("testdata/served.jsonl")
	if err != nil {
		panic(err)
	}
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		r := &recs[i]
		if err := json.Unmarshal(line, r); err != nil && !bytes.Contains(line, []byte(`"kind":"data_change"`)) {
			panic(err) // a data change's version is a number: its kind is read all the same
		}
		switch r.Kind {
		case KindDecision:
			var tr trace.Trace
			if err := json.Unmarshal(r.Trace, &tr); err != nil {
				panic(err)
			}
			for _, rule := range tr {
				for _, c := range rule.Conditions {
					for _, v := range c.DataVersions() {
						if !slices.Contains(r.Cites, v) { // each once, as policy.Decision.DataVersions gives them
							r.Cites = append(r.Cites, v)
						}
					}
				}
			}
		case KindDataChange:
			var c struct {
				Kind    string `json:"data_kind"`
				List    string `json:"list"`
				Version uint64 `json:"version"`
			}
			if err := json.Unmarshal(line, &c); err != nil {
				panic(err)
			}
			r.Import = DataImport{Set: c.Kind + "/" + c.List, Version: c.Version}
			fallthrough
		default: // the fields between kind and the ones the writer adds
			l, _ := parseLine(line)
			_, fields, _ := bytes.Cut(l.record, []byte(`"kind":"`+r.Kind+`",`))
			end := bytes.LastIndex(fields, []byte(`,"salt":`))
			if i := bytes.LastIndex(fields, []byte(`,"decision_hash":`)); i >= 0 {
				end = i
			}
			r.Data = append(append([]byte{'{'}, fields[:end]...), '}')
		}
		// The log fills these anew; a release build names itself so.
		r.Seq, r.Salt, r.Hash, r.Version = 0, "", "", releaseVersion
	}
	return recs
}()

// releaseVersion is what a release build writes as its version (a test
// build writes "unknown").
const releaseVersion = "v0.4.0 3008f5a1b2c3 2026-11-29T17:00:00Z"

// servedImports are the data_change records of the imports the fixtures'
// traces cite; a log that holds them names them in the decisions that cite
// them (data_hashes), as a served log does.
func servedImports() []Record {
	imports := slices.Clone(served[:2])
	for i := range imports {
		imports[i].Time = time.Date(2031, 1, 2, 15, 0, i, 0, time.UTC) // the fixtures' day
	}
	return imports
}

// servedCall gives the record call i of a fixture log a Call-ID and time of its own.
func servedCall(r Record, i int) Record {
	r.CallID = fmt.Sprintf("2-%d@127.0.0.1", 13811+6*i)
	r.Time = time.Date(2031, 1, 2, 15, 4, 5, 6+i, time.UTC)
	return r
}

// shippedRecord is an allowed call's decision under the shipped policy, as
// a served call logs it: every rule is in its trace, so it is the largest
// decision record the shipped policy writes (a campaign whose media is
// anchored has its abandonment rate counted: about 40 bytes more).
func shippedRecord(i int) Record { return servedCall(served[2], i) }

// rejectedRecord is a call the shipped policy rejects: for a number on the
// national registry (the trace stops at its fourth rule) or, with every
// list passed, outside the federal calling hours (ninth rule).
func rejectedRecord(i int, hours bool) Record {
	if hours {
		return servedCall(served[5], i)
	}
	return servedCall(served[4], i)
}

// outcomeRecord is the outcome of shippedRecord(i)'s call (answered, 82.5 s
// connected), with the fields a served call's outcome has.
func outcomeRecord(i int) Record {
	d := shippedRecord(i)
	var o Outcome
	if err := json.Unmarshal(served[3].Data, &o); err != nil {
		panic(err)
	}
	answered := Time{d.Time.Add(8 * time.Second)}
	ended := answered.Add(82500 * time.Millisecond)
	// ended is the record's time, which the log writes instead (AppendEvent).
	o.CallID, o.Invited, o.Answered, o.Ended, o.DurationS = d.CallID, Time{d.Time}, &answered, Time{}, 82.5
	data, err := json.Marshal(o)
	if err != nil {
		panic(err)
	}
	return Record{Kind: KindOutcome, Time: ended, CallID: d.CallID, Version: releaseVersion, Data: data}
}

// dayRecords are n records as a day under the shipped policy writes them:
// of every 10 calls, 8 allowed (shippedRecord), each with its outcome
// written after the next call's decision, one rejected for the national
// registry and one for the calling hours: 18 records, 16 of them the
// allowed calls'.
func dayRecords(n int) []Record {
	var rs []Record
	outcome := -1 // the allowed call whose outcome is still to come
	for call := 0; len(rs) < n; call++ {
		d := shippedRecord(call)
		switch call % 10 {
		case 3:
			d = rejectedRecord(call, false)
		case 7:
			d = rejectedRecord(call, true)
		}
		rs = append(rs, d)
		if outcome >= 0 {
			rs = append(rs, outcomeRecord(outcome))
		}
		outcome = -1
		if d.Decision == "allow" {
			outcome = call
		}
	}
	return rs[:n]
}

// The hand-written encoder must say what the struct tags say: decode what it
// writes with encoding/json and with the tags, and both must agree.
func TestMarshalAgreesWithStructTags(t *testing.T) {
	type plain Record // the same fields and tags, without MarshalJSON
	for _, r := range []Record{fullRecord(0), shippedRecord(0), {Kind: KindDecision, Salt: strings.Repeat("5", 32)}} {
		if r.Seq == 0 && r.CallID != "" {
			r.Seq, r.Kind, r.Salt, r.Prev, r.Hash = 7, KindDecision, strings.Repeat("5", 32), strings.Repeat("0", 64), strings.Repeat("f", 64)
		}
		ours, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := json.Marshal(plain(r))
		if err != nil {
			t.Fatal(err)
		}
		var a, b map[string]any
		if err := json.Unmarshal(ours, &a); err != nil {
			t.Fatalf("our JSON does not parse: %v\n%s", err, ours)
		}
		if err := json.Unmarshal(theirs, &b); err != nil {
			t.Fatal(err)
		}
		if want := r.Time.UTC().Format(timeLayout); a["time"] != want {
			t.Errorf("time = %v, want a fixed 9-digit fraction %s", a["time"], want)
		}
		b["time"] = a["time"] // encoding/json trims trailing zeros of the fraction
		if !reflect.DeepEqual(a, b) {
			t.Errorf("fields differ:\nours   %v\ntheirs %v", a, b)
		}
		if r.Hash != "" && !strings.HasSuffix(string(ours), `,"hash":"`+r.Hash+`"}`) {
			t.Errorf("hash is not the last field: %s", ours)
		}
		if strings.Contains(string(ours), `\u003c`) {
			t.Errorf("< was escaped: %s", ours)
		}
	}
}

func TestOptionalFieldsOmitted(t *testing.T) {
	b, _ := json.Marshal(Record{Decision: "allow", Status: 200})
	for _, name := range []string{"reason", "routing_number", "campaign", "seller", "error", "dial_mode", "would", "hash", "prev", "monitor", "prerecorded"} {
		if strings.Contains(string(b), `"`+name+`"`) {
			t.Errorf("empty %s written: %s", name, b)
		}
	}
	b, _ = json.Marshal(Outcome{CallID: "c", Status: 200})
	for _, name := range []string{"caller_name", "seller", "campaign", "dial_mode", "prerecorded", "answered", "ended", "media"} {
		if strings.Contains(string(b), `"`+name+`"`) {
			t.Errorf("empty %s written: %s", name, b)
		}
	}
}

// An outcome's ended is its record's time: the log leaves it out, and it
// reads back from time; an ended at another time stays.
func TestOutcomeEndedIsItsTime(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{Uncompressed: true})
	at := time.Date(2031, 1, 2, 15, 0, 1, 250, time.UTC)
	for _, ended := range []time.Time{at, at.Add(-time.Second)} {
		if err := l.AppendEvent(KindOutcome, at, Outcome{CallID: "c", Seller: "acme", Invited: Time{at.Add(-time.Minute)}, Ended: Time{ended}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, logFile{day: 20310102}.path(dir))
	for i, want := range []time.Time{at, at.Add(-time.Second)} {
		if has := bytes.Contains(lines[i], []byte(`"ended":`)); has != (i == 1) {
			t.Errorf("record %d holds ended: %v: %s", i, has, lines[i])
		}
		var o Outcome
		if err := json.Unmarshal(lines[i], &o); err != nil || !o.Ended.Equal(want) || !o.Time.Equal(at) || o.Seller != "acme" {
			t.Errorf("record %d reads back as %+v, %v", i, o, err)
		}
	}
}

// appendString must read back as encoding/json's own round trip does, for
// any bytes a SIP header could carry.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `"q"`, `back\slash`, "\x00\x1f\x7f", "é\u2028\U0001F4DE", "\xff", "a\xc3", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := appendString(nil, s)
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %s: %v", s, enc, err)
		}
		ref, _ := json.Marshal(s)
		var want string
		_ = json.Unmarshal(ref, &want)
		if got != want {
			t.Fatalf("%q reads back as %q, encoding/json gives %q", s, got, want)
		}
	})
}

func BenchmarkEncodeRecord(b *testing.B) {
	r := fullRecord(0)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = r.appendJSON(buf[:0])
	}
}

// The yardstick for the hand-written encoder.
func BenchmarkEncodeRecordEncodingJSON(b *testing.B) {
	type plain Record
	r := plain(fullRecord(0))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(r); err != nil {
			b.Fatal(err)
		}
	}
}

// The outcome record the server writes keeps the log's time layout (9
// decimals in UTC, so that an outcome's invited equals its decision's time
// as text), and reads back as it was written.
func TestOutcomeTimesKeepTheLogsLayout(t *testing.T) {
	at := time.Date(2031, 5, 1, 8, 0, 1, 0, time.FixedZone("EDT", -4*3600))
	answered := Time{at.Add(8500 * time.Millisecond)}
	o := Outcome{CallID: "c", Invited: Time{at}, Answered: &answered, Ended: Time{at.Add(time.Minute)}, DurationS: 51.5}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"invited":"2031-05-01T12:00:01.000000000Z"`, `"answered":"2031-05-01T12:00:09.500000000Z"`, `"ended":"2031-05-01T12:01:01.000000000Z"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	if strings.Contains(string(b), `"time"`) || strings.Contains(string(b), `"seq"`) {
		t.Errorf("%s has the log's own fields, which the log stamps", b)
	}
	var back Outcome
	if err := json.Unmarshal(b, &back); err != nil || !back.Invited.Equal(at) || !back.Answered.Equal(answered.Time) || !back.Ended.Equal(at.Add(time.Minute)) {
		t.Errorf("read back %+v, %v", back, err)
	}
}

// The fixtures are written as the served records were: the same fields in
// the same order.
func TestFixturesHaveTheServedShape(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{Uncompressed: true})
	for _, r := range append(servedImports(), shippedRecord(0), outcomeRecord(0), rejectedRecord(1, false), rejectedRecord(2, true)) {
		l.Append(r)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/served.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	for i, line := range readLines(t, logFile{day: 20310102}.path(dir)) {
		if got, want := fieldNames(t, line), fieldNames(t, want[i]); !slices.Equal(got, want) {
			t.Errorf("fixture %d has the fields\n%v\na served record\n%v", i, got, want)
		}
	}
}

func fieldNames(t *testing.T, line []byte) []string {
	t.Helper()
	var names []string
	dec := jsontext.NewDecoder(bytes.NewReader(line))
	if _, err := dec.ReadToken(); err != nil {
		t.Fatal(err)
	}
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err == nil {
			names = append(names, name.String())
			err = dec.SkipValue()
		}
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
	}
	return names
}
