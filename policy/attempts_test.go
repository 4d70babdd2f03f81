package policy

import (
	"context"
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
