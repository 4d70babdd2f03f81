package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// testCall is one call queryLog writes: its decision, and its outcome when
// allowed.
type testCall struct {
	Record
	seller string
}

// queryNumbers are called again and again; every third call goes to a
// number of its own.
var queryNumbers = []string{"+12025550199", "+13125550100"}

// queryLog writes n calls over several days with the real Log, and the
// outcomes of the allowed ones one call later, as a running server does
// (a call ends after the next one was decided). Every third call is
// rejected by internal-dnc; campaigns, dialers, sellers and callers vary.
func queryLog(t testing.TB, n int) (string, []testCall) {
	return queryLogWith(t, n, 20*time.Minute, Options{})
}

// queryLogWith writes n calls step apart into a log opened with opts.
func queryLogWith(t testing.TB, n int, step time.Duration, opts Options) (string, []testCall) {
	t.Helper()
	dir := t.TempDir()
	l, _ := open(t, dir, opts)
	start := time.Date(2031, 1, 2, 22, 0, 0, 0, time.UTC)
	var calls []testCall
	var outcomeOf *testCall
	for i := range n {
		r := Record{
			Time:     start.Add(time.Duration(i) * step),
			CallID:   fmt.Sprintf("call-%d@dialer", i),
			Decision: "allow", Rule: "default", Status: 200,
			Called:   fmt.Sprintf("+1415555%04d", i%10000),
			Caller:   fmt.Sprintf("+1312555%04d", i%2),
			Dialer:   []string{"predictive", "manual"}[i%2],
			Campaign: []string{"spring", "summer", "fall", "winter"}[i%4],
			Source:   "127.0.0.1:5080", Mode: "enforce", Version: "test",
		}
		if i%3 < 2 {
			r.Called = queryNumbers[i%3]
		}
		if i%3 == 1 {
			r.Decision, r.Rule, r.Status, r.Reason = "reject", "internal-dnc", 603, "Decline"
		}
		r.Seller = []string{"acme", "globex", "initech"}[i%3]
		l.Append(r)
		if outcomeOf != nil {
			writeOutcome(t, l, outcomeOf, r.Time.Add(time.Minute))
		}
		c := testCall{Record: r, seller: r.Seller}
		calls = append(calls, c)
		outcomeOf = nil
		if r.Decision == "allow" {
			outcomeOf = &calls[len(calls)-1]
		}
	}
	if outcomeOf != nil {
		writeOutcome(t, l, outcomeOf, outcomeOf.Time.Add(time.Hour))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, calls
}

func writeOutcome(t testing.TB, l *Log, c *testCall, ended time.Time) {
	t.Helper()
	if err := l.AppendEvent(KindOutcome, ended, map[string]any{
		"call_id": c.CallID, "called": c.Called, "caller_id": c.Caller, "dialer": c.Dialer, "seller": c.seller,
		"campaign": c.Campaign, "status": c.Status, "disposition": "answered", "invited": c.Time,
		"ended": ended, "duration_s": 42.5, "ended_by": "dialer",
	}); err != nil {
		t.Fatal(err)
	}
}

func searchAll(t testing.TB, dir string, q Query) []Call {
	t.Helper()
	var out []Call
	for c, err := range Search(dir, q) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func callIDs(calls []Call) []string {
	var ids []string
	for _, c := range calls {
		ids = append(ids, c.Decision.CallID)
	}
	return ids
}

// want lists the Call-IDs of the written calls that keep selects, in order.
func want(calls []testCall, keep func(c testCall) bool) []string {
	var ids []string
	for _, c := range calls {
		if keep(c) {
			ids = append(ids, c.CallID)
		}
	}
	return ids
}

func TestSearchEachFilter(t *testing.T) {
	dir, calls := queryLog(t, 30)
	if files, _ := logFiles(dir); len(files) < 2 {
		t.Fatalf("the log spans %d files, want several", len(files))
	}
	since, until := calls[5].Time, calls[17].Time
	for _, tc := range []struct {
		name string
		q    Query
		keep func(c testCall) bool
	}{
		{"all", Query{}, func(testCall) bool { return true }},
		{"called", Query{Called: queryNumbers[0]}, func(c testCall) bool { return c.Called == queryNumbers[0] }},
		{"caller", Query{Caller: "+13125550001"}, func(c testCall) bool { return c.Caller == "+13125550001" }},
		{"call-id", Query{CallID: "call-7@dialer"}, func(c testCall) bool { return c.CallID == "call-7@dialer" }},
		{"decision", Query{Decision: "reject"}, func(c testCall) bool { return c.Decision == "reject" }},
		{"rule", Query{Rule: "internal-dnc"}, func(c testCall) bool { return c.Rule == "internal-dnc" }},
		{"status", Query{Status: 200}, func(c testCall) bool { return c.Status == 200 }},
		{"campaign", Query{Campaign: "fall"}, func(c testCall) bool { return c.Campaign == "fall" }},
		{"dialer", Query{Dialer: "manual"}, func(c testCall) bool { return c.Dialer == "manual" }},
		{"seller", Query{Seller: "acme"}, func(c testCall) bool { return c.seller == "acme" }},
		{"since-until", Query{Since: since, Until: until}, func(c testCall) bool { return !c.Time.Before(since) && c.Time.Before(until) }},
		{"since", Query{Since: since}, func(c testCall) bool { return !c.Time.Before(since) }},
		{"until", Query{Until: until}, func(c testCall) bool { return c.Time.Before(until) }},
		{"combined", Query{Called: queryNumbers[1], Decision: "allow", Since: since},
			func(c testCall) bool {
				return c.Called == queryNumbers[1] && c.Decision == "allow" && !c.Time.Before(since)
			}},
		{"none", Query{Called: "+19995550100"}, func(testCall) bool { return false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, exp := callIDs(searchAll(t, dir, tc.q)), want(calls, tc.keep)
			if !slices.Equal(got, exp) {
				t.Errorf("got %v\nwant %v", got, exp)
			}
		})
	}
}

func TestSearchJoinsOutcomes(t *testing.T) {
	dir, calls := queryLog(t, 12)
	got := searchAll(t, dir, Query{})
	if len(got) != len(calls) {
		t.Fatalf("%d calls, want %d", len(got), len(calls))
	}
	for i, c := range got {
		w := calls[i]
		if c.Decision.CallID != w.CallID || c.Decision.Rule != w.Rule || !c.Decision.Time.Equal(w.Time) {
			t.Fatalf("call %d: %+v, want %+v", i, c.Decision, w.Record)
		}
		if w.Decision == "reject" {
			if c.Outcome != nil {
				t.Errorf("%s: rejected, yet an outcome %+v", w.CallID, c.Outcome)
			}
			continue
		}
		if c.Outcome == nil || c.Outcome.CallID != w.CallID || c.Outcome.Disposition != "answered" ||
			c.Outcome.DurationS != 42.5 || c.Seller != w.seller || len(c.OutcomeLine) == 0 {
			t.Errorf("%s: outcome %+v, seller %q", w.CallID, c.Outcome, c.Seller)
		}
	}
}

func TestSearchLimit(t *testing.T) {
	dir, calls := queryLog(t, 12)
	got := callIDs(searchAll(t, dir, Query{Limit: 4}))
	if exp := want(calls, func(testCall) bool { return true })[:4]; !slices.Equal(got, exp) {
		t.Errorf("got %v, want %v", got, exp)
	}
}

// A copied folder (no lock, no tree, other path) reads the same.
func TestSearchCopiedFolder(t *testing.T) {
	dir, calls := queryLog(t, 12)
	copied := t.TempDir()
	files, _ := logFiles(dir)
	for _, f := range files {
		data, err := os.ReadFile(f.path(dir))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.path(copied), data, 0o440); err != nil {
			t.Fatal(err)
		}
	}
	got := callIDs(searchAll(t, copied, Query{Called: queryNumbers[0]}))
	if exp := want(calls, func(c testCall) bool { return c.Called == queryNumbers[0] }); !slices.Equal(got, exp) {
		t.Errorf("got %v, want %v", got, exp)
	}
}

func TestStats(t *testing.T) {
	dir, calls := queryLog(t, 30)
	rows, err := Stats(dir, Query{}, []string{"day", "rule"})
	if err != nil {
		t.Fatal(err)
	}
	exp := map[[2]string]*Row{}
	for _, c := range calls {
		k := [2]string{c.Time.Format("2006-01-02"), c.Rule}
		r := exp[k]
		if r == nil {
			r = &Row{Group: k[:]}
			exp[k] = r
		}
		r.Calls++
		if c.Decision == "reject" {
			r.Rejected++
		} else {
			r.Allowed++
		}
	}
	if len(rows) != len(exp) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(exp), rows)
	}
	for i, r := range rows {
		w := exp[[2]string{r.Group[0], r.Group[1]}]
		if w == nil || r.Calls != w.Calls || r.Rejected != w.Rejected || r.Allowed != w.Allowed {
			t.Errorf("row %+v, want %+v", r, w)
		}
		if i > 0 && slices.Compare(rows[i-1].Group, r.Group) >= 0 {
			t.Errorf("rows not sorted: %v before %v", rows[i-1].Group, r.Group)
		}
	}
	if _, err := Stats(dir, Query{}, []string{"colour"}); err == nil {
		t.Error("grouping by an unknown name passed")
	}
	rows, err = Stats(dir, Query{Rule: "internal-dnc"}, nil)
	if err != nil || len(rows) != 1 || rows[0].Calls != 10 || rows[0].RejectRate() != 1 {
		t.Errorf("totals of internal-dnc: %+v, %v", rows, err)
	}
}

// Outcome's own encoder writes what encoding/json writes from its tags:
// the same bytes, but for <, > and &, which it leaves unescaped as the
// decision records do, and the same value read back.
func TestOutcomeMarshalJSON(t *testing.T) {
	type tagsOnly Outcome // the same fields and tags, without the methods
	at := Time{time.Date(2026, 11, 29, 15, 4, 5, 60, time.UTC)}
	full := Outcome{Time: at.Time.Add(time.Second), Seq: 42, CallID: `a"b\c`, Called: "+12025550143",
		Calling: "2025550100", CallerID: "+12025550100", CallerName: "Jos\u00e9 \x01 <Acme & Co>", Dialer: "d1",
		Seller: "s", Campaign: "c", DialMode: "automated", Prerecorded: true, Status: 200, Disposition: "answered",
		Invited: at, Answered: &at, Ended: at, DurationS: 42.5, EndedBy: "dialer",
		Media: &MediaEvidence{Verdict: "abandoned"}}
	// A field added to Outcome must be added to its encoder too.
	if n := reflect.TypeFor[Outcome]().NumField(); n != 20 {
		t.Fatalf("Outcome has %d fields, its encoder (Outcome.appendJSON) writes 20", n)
	}
	for _, o := range []Outcome{
		full,
		{CallID: "x", Status: 487, Disposition: "cancelled", Invited: at, Ended: at, EndedBy: "cancel"},
		{DurationS: 1e-7}, {DurationS: 3e21}, {DurationS: -0.25}, {DurationS: 123456789.001},
	} {
		got, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(tagsOnly(o))
		if err != nil {
			t.Fatal(err)
		}
		r := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")
		if string(got) != r.Replace(string(want)) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
		var back Outcome
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		if b, _ := json.Marshal(tagsOnly(back)); string(b) != string(want) {
			t.Errorf("read back %s\nwant      %s", b, want)
		}
	}
}
