package policy

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const threeRules = `mode: enforce
lists:
  vip: callbacks the customers asked for
  internal: the company's own opt-outs
  ftc: the national registry
  state: a state's list
rules:
  - name: vip-callback
    match:
      listed: [vip]
    action: allow
  - name: internal-dnc
    match:
      listed: [internal]
    action: reject
  - name: national-dnc
    match:
      listed: [ftc, state]
    action: reject
    status: 607
`

func mustParse(t testing.TB, src string, reg Registry) *Engine {
	t.Helper()
	e, err := Parse("p.yaml", []byte(src), reg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func call(called string) Call {
	return Call{CallID: "c1", Called: called, CalledRaw: called, Caller: "+12025550100",
		Dialer: "predictive", Automated: true, Time: time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)}
}

func TestFirstMatchingRuleDecides(t *testing.T) {
	reg := newMemRegistry(map[string][]string{
		"vip":      {"+12025550101"},
		"internal": {"+12025550101", "+12025550102"},
		"state":    {"+12025550103"},
	})
	e := mustParse(t, threeRules, reg)
	ctx := context.Background()

	d := e.Decide(ctx, call("+12025550101"))
	if d.Action != Allow || d.Rule != "vip-callback" || !d.Forward() {
		t.Errorf("number on vip and internal: %+v; want allow by vip-callback, the first rule", d)
	}

	d = e.Decide(ctx, call("+12025550102"))
	internalVersion, _, _ := reg.ListDate("internal")
	vipVersion, _, _ := reg.ListDate("vip")
	want := Decision{Action: Reject, Rule: "internal-dnc", Status: 603, Reason: "Decline", Mode: "enforce",
		Called: Place{AreaCode: "202", State: "DC", TimeZones: []string{"America/New_York"},
			LocalTime: time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC).In(d.Called.LocalTime.Location())},
		PolicySHA256: e.SHA256(), Trace: []RuleTrace{
			{Rule: "vip-callback", Conditions: []ConditionTrace{{Kind: "listed", Version: vipVersion}}}, // the list that does not hold it, cited
			{Rule: "internal-dnc", Matched: true, Conditions: []ConditionTrace{{Kind: "listed", Holds: true, Value: "internal", Version: internalVersion}}},
		}}
	if d.Called.LocalTime.Location().String() != "America/New_York" || !reflect.DeepEqual(d, want) {
		t.Errorf("number on internal:\n got  %+v\n want %+v", d, want)
	}
	if d.Forward() {
		t.Error("an enforced reject is forwarded")
	}

	d = e.Decide(ctx, call("+12025550103"))
	if d.Action != Reject || d.Rule != "national-dnc" || d.Status != 607 || d.Reason != "Unwanted" {
		t.Errorf("number on state: %+v; want reject 607 Unwanted by national-dnc", d)
	}
	if got := d.Trace[2].Conditions[0].Value; got != "state" {
		t.Errorf("trace value %q; want state, the list that holds the number", got)
	}
}

func TestNoMatchAllowsByDefault(t *testing.T) {
	e := mustParse(t, threeRules, newMemRegistry(map[string][]string{"internal": {"+12025550102"}}))
	d := e.Decide(context.Background(), call("+12025550199"))
	if d.Action != Allow || d.Rule != "default" || d.Status != 0 || d.Monitor {
		t.Errorf("%+v; want allow by default", d)
	}
	if len(d.Trace) != 3 {
		t.Fatalf("trace has %d rules; want all 3 consulted", len(d.Trace))
	}
	for _, rt := range d.Trace {
		if rt.Matched || len(rt.Conditions) != 1 || rt.Conditions[0].Holds {
			t.Errorf("trace step %+v; want one condition that did not hold", rt)
		}
	}
}

func TestRuleWithoutMatchTakesEveryCall(t *testing.T) {
	src := "lists: {internal: opt-outs}\nrules:\n  - name: dnc\n    match:\n      listed: [internal]\n    action: reject\n" +
		"  - name: closed\n    action: reject\n    status: 480\n"
	e := mustParse(t, src, newMemRegistry(nil))
	d := e.Decide(context.Background(), call("+12025550199"))
	if d.Action != Reject || d.Rule != "closed" || d.Status != 480 || d.Reason != "Temporarily Unavailable" {
		t.Errorf("%+v; want reject 480 by closed", d)
	}
	if last := d.Trace[1]; !last.Matched || len(last.Conditions) != 0 {
		t.Errorf("trace of the catch-all rule: %+v", last)
	}
}

func TestUnparsedNumberIsRejectedBeforeAnyRule(t *testing.T) {
	// A failing registry shows that no rule ran: a lookup would have failed.
	reg := newMemRegistry(nil)
	reg.err = errors.New("store closed")
	e := mustParse(t, threeRules, reg)
	c := call("")
	c.CalledRaw, c.CalledErr = "55", `invalid number: "55" is not a possible number`
	d := e.Decide(context.Background(), c)
	if d.Action != Reject || d.Rule != "invalid-number" || d.Status != 484 || d.Reason != "Address Incomplete" ||
		d.Error != c.CalledErr || d.Trace != nil {
		t.Errorf("%+v; want reject 484 Address Incomplete by invalid-number, no trace", d)
	}
}

func TestNumberOfAreaCodeNotInServiceIsRejectedBeforeAnyRule(t *testing.T) {
	reg := newMemRegistry(nil)
	reg.err = errors.New("store closed") // a lookup would fail: no rule runs
	e := mustParse(t, threeRules, reg)
	for _, to := range []string{"+14565550100", "+18225550100", "+15555550100", "+12215550100"} {
		d := e.Decide(context.Background(), call(to))
		want := to + ": area code " + to[2:5] + " is not in service"
		if d.Action != Reject || d.Rule != "invalid-number" || d.Status != 484 || d.Error != want || d.Trace != nil {
			t.Errorf("%s: %+v; want reject 484 by invalid-number, %q, no trace", to, d, want)
		}
	}
}

func TestRegistryErrorFailsClosedForAutomatedOpenForManual(t *testing.T) {
	reg := newMemRegistry(nil)
	reg.err = errors.New("badger: DB closed")
	e := mustParse(t, threeRules, reg)

	d := e.Decide(context.Background(), call("+12025550102"))
	if d.Action != Reject || d.Rule != "registry-error" || d.Status != 503 || d.Reason != "Service Unavailable" || d.RetryAfter != 30 || !d.RegistryFailed() {
		t.Errorf("automated: %+v; want reject 503 Service Unavailable, Retry-After 30, by registry-error", d)
	}
	if want := "rule vip-callback, condition listed: badger: DB closed"; d.Error != want {
		t.Errorf("error %q; want %q", d.Error, want)
	}
	if len(d.Trace) != 1 || d.Trace[0].Rule != "vip-callback" || d.Trace[0].Matched || len(d.Trace[0].Conditions) != 1 {
		t.Errorf("trace %+v; want the one rule whose condition failed", d.Trace)
	}

	manual := call("+12025550102")
	manual.Automated = false
	d = e.Decide(context.Background(), manual)
	if d.Action != Allow || d.Rule != "registry-error" || d.Status != 0 || d.RetryAfter != 0 || !strings.Contains(d.Error, "DB closed") || !d.RegistryFailed() {
		t.Errorf("manual: %+v; want allow by registry-error with the error text", d)
	}
}

func TestMonitorModeForwardsWouldBeRejects(t *testing.T) {
	src := strings.Replace(threeRules, "mode: enforce", "mode: monitor", 1)
	e := mustParse(t, src, newMemRegistry(map[string][]string{"internal": {"+12025550102"}}))
	if e.Mode() != "monitor" {
		t.Fatalf("Mode() = %q", e.Mode())
	}
	d := e.Decide(context.Background(), call("+12025550102"))
	if d.Action != Reject || d.Rule != "internal-dnc" || d.Status != 603 || !d.Monitor || !d.Forward() || d.Mode != "monitor" {
		t.Errorf("listed number: %+v; want a would-be reject 603 that is forwarded", d)
	}
	d = e.Decide(context.Background(), call("+12025550199"))
	if d.Action != Allow || d.Monitor || !d.Forward() {
		t.Errorf("clean number: %+v; want a plain allow", d)
	}
	c := call("")
	c.CalledErr = "empty"
	if d = e.Decide(context.Background(), c); d.Status != 484 || !d.Forward() {
		t.Errorf("unparsed number: %+v; monitor mode forwards everything", d)
	}
}

// BenchmarkDecide walks all three rules (four lookups) for a number on no list:
// the most work the shipped kind of policy does for a call.
func TestMonitorRuleLogsAndLetsLaterRulesDecide(t *testing.T) {
	src := "lists: {internal: x}\nrules:\n" +
		"  - name: trial-sunday\n    match:\n      dial_mode: automated\n    action: reject\n    monitor: true\n" +
		"  - name: internal-dnc\n    match:\n      listed: [internal]\n    action: reject\n"
	e := mustParse(t, src, newMemRegistry(map[string][]string{"internal": {"+12125550101"}}))
	d := e.Decide(context.Background(), call("+12125550143"))
	if d.Action != Reject || d.Rule != "trial-sunday" || !d.Monitor || !d.Forward() || !d.Trace[0].Monitor || len(d.Trace) != 2 {
		t.Errorf("monitored match: %+v; want a forwarded would-be reject after consulting both rules", d)
	}
	d = e.Decide(context.Background(), call("+12125550101"))
	if d.Rule != "internal-dnc" || d.Monitor || d.Forward() {
		t.Errorf("listed number: %+v; want the enforced reject", d)
	}
}

func BenchmarkDecide(b *testing.B) {
	reg := newMemRegistry(map[string][]string{
		"vip": {"+12025550101"}, "internal": {"+12025550102"}, "ftc": {"+12025550103"}, "state": {"+12025550104"},
	})
	e := mustParse(b, threeRules, reg)
	ctx, c := context.Background(), call("+12025550199")
	b.ReportAllocs()
	for b.Loop() {
		if d := e.Decide(ctx, c); d.Rule != "default" {
			b.Fatal(d.Rule)
		}
	}
}

// A decision's data versions are every import id its trace cites, once, in
// the order first cited: what the decision log names the imports' records by.
func TestDecisionDataVersions(t *testing.T) {
	d := Decision{Trace: []RuleTrace{
		{Rule: "a", Conditions: []ConditionTrace{{Kind: "stale", Version: 37}, {Kind: "caller_id"}}},
		{Rule: "b", Conditions: []ConditionTrace{{Kind: "listed", Versions: []uint64{8, 37, 9}}}},
		{Rule: "c", Conditions: []ConditionTrace{{Kind: "line_type", Version: 31}}},
	}}
	if got := d.DataVersions(); !slices.Equal(got, []uint64{37, 8, 9, 31}) {
		t.Errorf("DataVersions = %v, want [37 8 9 31]", got)
	}
	if got := (Decision{}).DataVersions(); got != nil {
		t.Errorf("DataVersions of no trace = %v", got)
	}
}
