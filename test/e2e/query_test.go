package e2e

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// audit query and audit stats answer from a running gatekeeper's folder,
// the calls it just decided included, and from a copy of it after it
// stopped.
func TestAuditQueryOfARunningServer(t *testing.T) {
	g := newGatekeeper(t)
	g.importList("internal", listedNumber)
	g.start()
	carrier := g.carrier("uas.xml", 1)
	g.dial(dialerIP, "uac.xml", cleanNumber, "-set", "campaign", "spring").mustPass()
	carrier.mustPass()
	g.dial(dialerIP, "uac_reject.xml", listedNumber, "-set", "expect", "603").mustPass()

	// The writer has the records on disk within its flush interval.
	var out string
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, err = g.run("audit", "query", "--called", "(202) 555-0199", "--json")
		if err == nil && strings.Contains(out, `"decision":"reject"`) || time.Now().After(deadline) {
			break
		}
	}
	var rejected map[string]map[string]any
	if err != nil || json.Unmarshal([]byte(out), &rejected) != nil {
		t.Fatalf("audit query of the running server: %v\n%s", err, out)
	}
	if d := rejected["decision"]; d["rule"] != "internal-dnc" || d["status"] != 603.0 || d["called"] != "+12025550199" || rejected["outcome"] != nil {
		t.Errorf("the rejected call: %v", rejected)
	}
	out, err = g.run("audit", "query", "--called", "202-555-0143", "--long")
	if err != nil || !strings.Contains(out, "decision  allow 200 by rule default") || !strings.Contains(out, "campaign spring") {
		t.Errorf("audit query --long of the allowed call: %v\n%s", err, out)
	}
	out, err = g.run("audit", "stats", "--by", "rule", "--csv")
	rows, cerr := csv.NewReader(strings.NewReader(out)).ReadAll()
	want := [][]string{{"rule", "calls", "allowed", "rejected", "reject_pct", "monitored"},
		{"default", "1", "1", "0", "0.0", "0"}, {"internal-dnc", "1", "0", "1", "100.0", "0"}}
	if err != nil || cerr != nil || !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("audit stats of the running server: %v %v\n%s", err, cerr, out)
	}
	if out, err := g.run("audit", "query", "--json"); err != nil || strings.Count(out, "\n") != 2 {
		t.Errorf("audit query of every call: %v\n%s", err, out)
	}
	g.stop()
	stopped, err := g.run("audit", "query", "--json")
	if err != nil {
		t.Fatal(err)
	}

	// A copy of the folder, elsewhere, answers the same.
	copied := t.TempDir()
	names, _ := filepath.Glob(filepath.Join(g.dir, "audit", "decisions-*"))
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copied, filepath.Base(name)), data, 0o440); err != nil {
			t.Fatal(err)
		}
	}
	out, err = g.run("audit", "query", "--dir", copied, "--json")
	if err != nil || out != stopped {
		t.Errorf("the copy answers otherwise: %v\n%s\nwant\n%s", err, out, stopped)
	}
}
