package policy

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestAttemptsCountForwardedCallsPerScope(t *testing.T) {
	src := "rules:\n  - name: per-campaign\n    match:\n      attempts: {limit: 1, within: 1h, per: number_and_campaign}\n    action: reject\n" +
		"  - name: per-number\n    match:\n      attempts: {limit: 2, within: 24h}\n    action: reject\n"
	reg := newMemRegistry(nil)
	e := mustParse(t, src, reg)
	ctx := context.Background()
	c := call("+12125550143")
	c.Campaign = "spring"
	if d := e.Decide(ctx, c); d.Rule != "default" {
		t.Fatalf("first call: %+v", d)
	}
	earlier := c
	earlier.Time = c.Time.Add(-30 * time.Minute)
	if err := e.Forwarded(ctx, earlier); err != nil {
		t.Fatal(err)
	}
	d := e.Decide(ctx, c)
	if d.Rule != "per-campaign" || d.Trace[0].Conditions[0].Count != 1 || d.Trace[0].Conditions[0].Value != "number_and_campaign" {
		t.Errorf("second call, same campaign: %+v", d)
	}
	other := c
	other.Campaign = "fall"
	if d = e.Decide(ctx, other); d.Rule != "default" || d.Trace[1].Conditions[0].Count != 1 {
		t.Errorf("second call, other campaign: %+v; want allow, 1 attempt per number", d)
	}
	earlier.Campaign = "fall"
	earlier.Time = c.Time.Add(-2 * time.Hour)
	if err := e.Forwarded(ctx, earlier); err != nil {
		t.Fatal(err)
	}
	if d = e.Decide(ctx, other); d.Rule != "per-number" || d.Trace[1].Conditions[0].Count != 2 {
		t.Errorf("third call: %+v; want reject by per-number with 2 attempts", d)
	}
	if got := reg.at["nc/spring/+12125550143"]; len(got) != 1 {
		t.Errorf("counter per campaign holds %v", got)
	}
}

func TestForwardedWithoutCapsRecordsNothing(t *testing.T) {
	reg := newMemRegistry(nil)
	e := mustParse(t, "rules: []\n", reg)
	if err := e.Forwarded(context.Background(), call("+12125550143")); err != nil || len(reg.at) != 0 {
		t.Errorf("%v %v", err, reg.at)
	}
}

func TestAttemptsParse(t *testing.T) {
	bad := map[string]string{
		"      attempts: 3\n":                                   "p.yaml:4:17: attempts: want {limit: N, within: PERIOD}, e.g. {limit: 3, within: 24h}",
		"      attempts: {limit: 3}\n":                          "p.yaml:4:17: attempts: want both limit and within, e.g. {limit: 3, within: 24h}",
		"      attempts: {limit: 3, within: soon}\n":            `p.yaml:4:36: attempts: within: "soon" is not a length of time such as 31d, 24h or 90m`,
		"      attempts: {limit: 3, within: 1d, per: dialer}\n": `p.yaml:4:45: attempts: per "dialer" is not number or number_and_campaign`,
		"      attempts: {limit: -1, within: 1d}\n":             "p.yaml:4:25: attempts: limit is a number of calls, 0 or more",
	}
	for match, want := range bad {
		if got := parseErr("", match); got != want {
			t.Errorf("%s got  %s\n want %s", match, got, want)
		}
	}
}

func TestAttemptsWindowIsTheLongestCap(t *testing.T) {
	e := mustParse(t, "rules:\n"+
		"  - name: a\n    match:\n      attempts: {limit: 3, within: 24h}\n    action: reject\n"+
		"  - name: b\n    match:\n      attempts: {limit: 1, within: 7d, per: number_and_campaign}\n    action: reject\n", nil)
	if got := e.AttemptsWindow(); got != 7*24*time.Hour {
		t.Errorf("window %v, want 168h", got)
	}
	if got := mustParse(t, "rules: []\n", nil).AttemptsWindow(); got != 0 {
		t.Errorf("no caps: window %v, want 0", got)
	}
}

// reservingRegistry keeps caps as a shared service would: a place per
// Call-ID under each counter, at most limit of them.
type reservingRegistry struct {
	*memRegistry
	places map[string][]string // counter -> Call-IDs that hold a place
	asked  []string            // "name limit within callID" per request
}

func (r *reservingRegistry) ReserveAttempt(_ context.Context, name string, limit int, within time.Duration, callID string) (bool, error) {
	r.asked = append(r.asked, fmt.Sprintf("%s %d %s %s", name, limit, within, callID))
	if slices.Contains(r.places[name], callID) {
		return true, nil
	}
	if len(r.places[name]) >= limit {
		return false, nil
	}
	r.places[name] = append(r.places[name], callID)
	return true, nil
}

// With a CapReserver the condition asks for the call's place under the cap
// instead of counting: it holds exactly when the call gets none, and the
// same Call-ID asked again keeps its place.
func TestAttemptsReserveWithACapReserver(t *testing.T) {
	reg := &reservingRegistry{memRegistry: newMemRegistry(nil), places: map[string][]string{}}
	e := mustParse(t, "rules:\n  - name: two-a-day\n    match:\n      attempts: {limit: 2, within: 24h}\n    action: reject\n", reg)
	ctx := context.Background()
	for i, want := range []string{"default", "default", "two-a-day", "default"} {
		c := call("+12125550143")
		c.CallID = fmt.Sprintf("c%d", i)
		if i == 3 {
			c.CallID = "c0" // a retransmission of the first call
		}
		d := e.Decide(ctx, c)
		if d.Rule != want {
			t.Errorf("call %s: rule %s; want %s", c.CallID, d.Rule, want)
		}
		if cond := d.Trace[0].Conditions[0]; want == "two-a-day" && (cond.Count != 2 || cond.Value != "number") {
			t.Errorf("call %s refused with %+v; want count 2 (the limit), scope number", c.CallID, cond)
		}
	}
	if reg.asked[0] != "n/+12125550143 2 24h0m0s c0" || len(reg.asked) != 4 {
		t.Errorf("reservations asked: %q", reg.asked)
	}
}
