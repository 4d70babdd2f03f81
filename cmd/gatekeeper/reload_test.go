package main

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// A policy whose text cannot be kept (its archive in the audit folder
// fails) is not put in force: the reload is refused and the running policy
// stays; the next reload that can be kept goes through.
func TestReloadThatCannotBeKeptIsRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	os.WriteFile(path, []byte("rules: []\n"), 0o644)
	lp, err := loadLivePolicy(&config.Config{Dir: dir, Policy: "policy.yaml"}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	failing := true
	keep := func(_ string, _ []byte, e *policy.Engine, trigger string) error {
		if failing && trigger != "start" {
			return errors.New("disk full")
		}
		kept = append(kept, trigger+" "+e.SHA256())
		return nil
	}
	if err := lp.onLoad(keep); err != nil {
		t.Fatal(err)
	}
	start := lp.current.Load().SHA256()
	os.WriteFile(path, []byte("mode: monitor\nrules: []\n"), 0o644)
	lp.reload("SIGHUP")
	if lp.current.Load().SHA256() != start || lp.failures.Load() != 1 {
		t.Errorf("a policy that could not be kept was put in force (%d failures)", lp.failures.Load())
	}
	failing = false
	lp.reload("SIGHUP")
	if now := lp.current.Load().SHA256(); now == start || len(kept) != 2 || kept[1] != "SIGHUP "+now {
		t.Errorf("kept %v; in force %s", kept, now)
	}
}
