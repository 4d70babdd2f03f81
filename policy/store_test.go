package policy_test

import (
	"context"
	"os"
	"path/filepath"
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
	store, err := registry.Open(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	optOuts := filepath.Join(dir, "internal.txt")
	if err := os.WriteFile(optOuts, []byte("2025550143\n303,5550100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(context.Background(), registry.ImportRequest{List: "internal", Files: []string{optOuts}}); err != nil {
		t.Fatal(err)
	}
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
		{"+12025550144", policy.Allow, "default", 0},
	}
	for _, tc := range cases {
		d := engine.Decide(ctx, policy.Call{Called: tc.called, Automated: true, Time: time.Now()})
		if d.Action != tc.action || d.Rule != tc.rule || d.Status != tc.status || d.Error != "" {
			t.Errorf("%s: %+v; want %s by %s, status %d", tc.called, d, tc.action, tc.rule, tc.status)
		}
	}
}

// BenchmarkDecideShippedPolicyOnBadger is one decision of the shipped policy
// for a number on no list, with the lookup in a real Badger store.
func BenchmarkDecideShippedPolicyOnBadger(b *testing.B) {
	engine, _ := shippedPolicyOnBadger(b)
	ctx, c := context.Background(), policy.Call{Called: "+12025550144", Automated: true}
	b.ReportAllocs()
	for b.Loop() {
		if d := engine.Decide(ctx, c); d.Rule != "default" {
			b.Fatal(d.Rule, d.Error)
		}
	}
}
