package audit

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
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

// shippedRecord is an allowed call's decision under the shipped policy
// (configs/policy.yaml), as a served call logs it: every rule is in its
// trace (the campaign's abandonment rate counted on anchored media), so the
// line is about 1.9 KB, the largest decision record the shipped policy
// writes.
func shippedRecord(i int) Record {
	return Record{
		Time:        time.Date(2031, 1, 2, 15, 4, 5, 6+i, time.UTC),
		CallID:      "2-25534@127.0.0.1",
		Decision:    "allow",
		Rule:        "default",
		Status:      200,
		Called:      "+12025550143",
		Caller:      "+12025550100",
		Dialer:      "predictive",
		Campaign:    "bench",
		Source:      "127.0.0.1:5080",
		Mode:        "enforce",
		DialMode:    "automated",
		CalledPlace: json.RawMessage(`{"area_code":"202","state":"DC","time_zones":["America/New_York"],"local_time":"2031-01-02T10:04:05.000000006-05:00"}`),
		// The internal list holds live opt-outs only (never imported: no version to cite).
		Trace: json.RawMessage(`[{"rule":"internal-dnc","conditions":[{"kind":"listed"}]},` +
			`{"rule":"caller-id","conditions":[{"kind":"caller_id","value":"valid"}]},` +
			`{"rule":"national-registry-stale","conditions":[{"kind":"stale","value":"ftc","version":1}]},` +
			`{"rule":"national-dnc","conditions":[{"kind":"listed","version":1}]},` +
			`{"rule":"mobile-automated-consent","conditions":[{"kind":"dial_mode","holds":true,"value":"automated"},{"kind":"line_type","value":"landline from block","version":2}]},` +
			`{"rule":"prerecorded-consent","conditions":[{"kind":"prerecorded","value":"false"}]},` +
			`{"rule":"state-holidays","conditions":[{"kind":"holiday","value":"no state rule"}]},` +
			`{"rule":"state-hours","conditions":[{"kind":"outside_hours","value":"no state rule"}]},` +
			`{"rule":"federal-hours","conditions":[{"kind":"outside_hours","value":"America/New_York"}]},` +
			`{"rule":"state-frequency","conditions":[{"kind":"attempts","value":"no state rule"}]},` +
			`{"rule":"me-automated-frequency","conditions":[{"kind":"state","value":"DC"}]},` +
			`{"rule":"abandonment-rate","conditions":[{"kind":"dial_mode","holds":true,"value":"automated"},` +
			`{"kind":"abandonment_rate","value":"1.20% (24 of 2000) in 2031-01-01T00:00:00Z/2031-01-31T00:00:00Z","count":2000}]}]`),
		PolicySHA256: "e2b9c940d77253cdcbae76d624f5ec865c8aa763c15a5b4ac95ca7ad99ce742e",
		Version:      "v1.2.3",
	}
}

// rejectedRecord is a call the shipped policy rejects: for a number on the
// national registry (the trace stops at its fourth rule) or, with every
// list passed, outside the federal calling hours (ninth rule).
func rejectedRecord(i int, hours bool) Record {
	r := shippedRecord(i)
	var trace []json.RawMessage
	if err := json.Unmarshal(r.Trace, &trace); err != nil {
		panic(err)
	}
	r.Decision, r.Status, r.Reason = "reject", 603, "Decline"
	r.Rule, trace = "national-dnc", append(trace[:3],
		json.RawMessage(`{"rule":"national-dnc","matched":true,"conditions":[{"kind":"listed","holds":true,"value":"ftc","version":1}]}`))
	if hours {
		r.Status, r.Reason = 480, "Temporarily Unavailable"
		r.Rule, trace = "federal-hours", append(trace[:8],
			json.RawMessage(`{"rule":"federal-hours","matched":true,"conditions":[{"kind":"outside_hours","holds":true,"value":"America/New_York"}]}`))
		r.Time = r.Time.Add(-14 * time.Hour) // 20:04 the day before in Washington
	}
	r.Trace, _ = json.Marshal(trace)
	return r
}

// outcomeRecord is the outcome of shippedRecord(i)'s call (answered, 82.5 s
// connected), as the server writes it.
func outcomeRecord(i int) Record {
	d := shippedRecord(i)
	answered := Time{d.Time.Add(8 * time.Second)}
	data, err := json.Marshal(Outcome{CallID: d.CallID, Called: d.Called, Calling: "2025550100", CallerID: d.Caller,
		Dialer: d.Dialer, Seller: d.Seller, Campaign: d.Campaign, DialMode: d.DialMode, Status: 200, Disposition: "answered",
		Invited: Time{d.Time}, Answered: &answered, Ended: Time{answered.Add(82500 * time.Millisecond)}, DurationS: 82.5, EndedBy: "dialer"})
	if err != nil {
		panic(err)
	}
	return Record{Kind: KindOutcome, Time: answered.Add(82500 * time.Millisecond), Data: data}
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
	for _, name := range []string{"reason", "routing_number", "error", "dial_mode", "would", "hash", "prev", "monitor", "prerecorded"} {
		if strings.Contains(string(b), `"`+name+`"`) {
			t.Errorf("empty %s written: %s", name, b)
		}
	}
	// policy replay tells a record that predates the call's facts by its
	// missing seller (hasCallFacts), and 16 CFR 310.5(a)(2) lists the seller.
	for _, always := range []string{`"seller":""`} {
		if !strings.Contains(string(b), always) {
			t.Errorf("%s must always be present: %s", always, b)
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
