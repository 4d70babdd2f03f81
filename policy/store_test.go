package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/configs"
	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// shippedPolicyOnBadger opens a real registry with the internal list imported
// from a file and parses the shipped policy over it.
func shippedPolicyOnBadger(t testing.TB) (*policy.Engine, *registry.Store) {
	t.Helper()
	dir := t.TempDir()
	store, err := registry.Open(registry.DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	optOuts := filepath.Join(dir, "internal.txt")
	national := filepath.Join(dir, "ftc.txt")
	for path, text := range map[string]string{optOuts: "2025550143\n303,5550100\n", national: "3055550100\n"} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for list, file := range map[string]string{"internal": optOuts, "ftc": national} {
		if _, err := store.Import(context.Background(), registry.ImportRequest{List: list, Files: []string{file}}); err != nil {
			t.Fatal(err)
		}
	}
	importLandlineBlocks(t, store, dir) // consent_store_test.go
	text, err := configs.Files.ReadFile("policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.Parse("policy.yaml", text, store)
	if err != nil {
		t.Fatal(err)
	}
	return engine, store
}

func TestShippedPolicyOnBadgerRegistry(t *testing.T) {
	engine, _ := shippedPolicyOnBadger(t)
	ctx := context.Background()
	cases := []struct {
		called string
		action policy.Action
		rule   string
		status int
	}{
		{"+12025550143", policy.Reject, "internal-dnc", 603},
		{"+13035550100", policy.Reject, "internal-dnc", 603},
		{"+13055550100", policy.Reject, "national-dnc", 603},
		{"+12025550144", policy.Allow, "default", 0},
	}
	for _, tc := range cases {
		d := engine.Decide(ctx, workdayNoon(tc.called))
		if d.Action != tc.action || d.Rule != tc.rule || d.Status != tc.status || d.Error != "" {
			t.Errorf("%s: %+v; want %s by %s, status %d", tc.called, d, tc.action, tc.rule, tc.status)
		}
	}
}

// workdayNoon is an automated call at a time every rule of the shipped
// policy allows: noon on a Wednesday, where the number rings, the national
// list imported just before (the store's import time is its date).
func workdayNoon(called string) policy.Call {
	at := time.Now().Add(time.Minute)
	return policy.Call{Called: called, Caller: "+12025550100", Automated: true, Dialer: "predictive",
		Time: time.Date(at.Year(), at.Month(), at.Day(), 12, 0, 0, 0, time.FixedZone("EST", -5*3600)).
			AddDate(0, 0, (int(time.Wednesday)-int(at.Weekday())+7)%7)}
}

func TestForwardedCallsCountTowardTheCap(t *testing.T) {
	engine, _ := shippedPolicyOnBadger(t)
	ctx := context.Background()
	c := workdayNoon("+13055550143") // Florida: 3 calls per 24 h
	for i := range 3 {
		earlier := c
		earlier.Time = c.Time.Add(-time.Duration(i+1) * time.Hour)
		if err := engine.Forwarded(ctx, earlier); err != nil {
			t.Fatal(err)
		}
	}
	d := engine.Decide(ctx, c)
	if d.Rule != "state-frequency" || d.Status != 480 {
		t.Fatalf("fourth call: %+v; want reject 480 by state-frequency", d)
	}
	if last := d.Trace[len(d.Trace)-1].Conditions[0]; last.Count != 3 || last.Value != "number" {
		t.Errorf("trace of the cap: %+v; want 3 attempts per number", last)
	}
	if d = engine.Decide(ctx, workdayNoon("+13055550144")); d.Rule != "default" {
		t.Errorf("another Florida number: %+v; want allow by default", d)
	}
}

// BenchmarkDecideShippedPolicyOnBadger is one decision of the shipped policy
// on a real Badger store, for the call that runs the most rules: a Florida
// number on no list at noon, so that every rule runs, with its lookups
// (two lists, the national list's date, the state tables, the attempt counter,
// the campaign's abandonment period).
func BenchmarkDecideShippedPolicyOnBadger(b *testing.B) {
	engine, _ := shippedPolicyOnBadger(b)
	ctx, c := context.Background(), workdayNoon("+13055550143")
	b.ReportAllocs()
	for b.Loop() {
		if d := engine.Decide(ctx, c); d.Rule != "default" || len(d.Trace) != 12 {
			b.Fatal(d.Rule, d.Error, len(d.Trace))
		}
	}
}

// BenchmarkDecideShippedPolicyOnBadgerP99 reports the 99th percentile of the
// same decision's latency, warm.
func BenchmarkDecideShippedPolicyOnBadgerP99(b *testing.B) {
	engine, _ := shippedPolicyOnBadger(b)
	ctx, c := context.Background(), workdayNoon("+13055550143")
	for range 1000 { // warm up
		engine.Decide(ctx, c)
	}
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		engine.Decide(ctx, c)
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
}
