package main

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/audit"
)

// auditFolder writes, with the real log, three calls to 202-555-0199 (one
// rejected by internal-dnc, two allowed, with their outcomes) and one to
// another number, on 2031-05-01 and 2031-05-02 (UTC). The log is left open
// when keepOpen: a running server's folder.
func auditFolder(t *testing.T, keepOpen bool) string {
	t.Helper()
	dir := t.TempDir()
	l, err := audit.Open(dir, audit.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Retain: -1})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2031, 5, 1, 16, 0, 0, 0, time.UTC)
	calls := []audit.Record{
		{CallID: "a1@dialer", Decision: "reject", Rule: "internal-dnc", Status: 603, Reason: "Decline", Called: "+12025550199", Campaign: "spring, \"early\""},
		{CallID: "a2@dialer", Decision: "allow", Rule: "default", Status: 200, Called: "+12025550199", Campaign: "spring"},
		{CallID: "a3@dialer", Decision: "allow", Rule: "default", Status: 200, Called: "+13125550100", Campaign: "summer"},
		{CallID: "a4@dialer-with-a-very-long-call-id-that-goes-on", Decision: "allow", Rule: "default", Status: 486, Called: "+12025550199", Campaign: "summer"},
	}
	for i, r := range calls {
		r.Time = at.Add(time.Duration(i) * 10 * time.Hour)
		r.Caller, r.Dialer, r.Source, r.Mode, r.PolicySHA256 = "+13125550100", "predictive", "127.0.0.1:5080", "enforce", strings.Repeat("ab", 32)
		// An allowed call's trace cites the lists that did not hold its number.
		r.Trace = json.RawMessage(`[{"rule":"internal-dnc","conditions":[{"kind":"listed","version":7}]},` +
			`{"rule":"dnc","conditions":[{"kind":"listed","versions":[8,9]}]}]`)
		if r.Decision == "reject" {
			r.Trace = json.RawMessage(`[{"rule":"caller-id","conditions":[{"kind":"caller_id","value":"valid"}]},` + // as written today: false left out
				`{"rule":"internal-dnc","matched":true,"conditions":[{"kind":"listed","holds":true,"value":"internal","version":7}]}]`)
		}
		l.Append(r)
		if r.Decision == "allow" {
			ended := r.Time.Add(3 * time.Minute)
			disposition := "answered"
			if r.Status != 200 {
				disposition = "busy"
			}
			if err := l.AppendEvent(audit.KindOutcome, ended, map[string]any{"call_id": r.CallID, "called": r.Called, "seller": "acme",
				"status": r.Status, "disposition": disposition, "invited": r.Time, "ended": ended, "duration_s": 175.5, "ended_by": "dialer"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if keepOpen {
		t.Cleanup(func() { l.Close() })
		// The writer has them on disk within its flush interval, and
		// compresses and indexes the complete file in the background.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			out, _ := runCmd(t, newAuditCmd(), "query", "--dir", dir, "--json", "--call-id", "a4@dialer-with-a-very-long-call-id-that-goes-on")
			_, err := os.Stat(filepath.Join(dir, "index", "decisions-2031-05-01.jsonl.gz.idx"))
			if strings.Contains(out, `"outcome"`) && err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the records did not reach the file")
			}
		}
	} else if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// jsonCalls reads audit query --json output.
func jsonCalls(t *testing.T, out string) []map[string]map[string]any {
	t.Helper()
	var calls []map[string]map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var c map[string]map[string]any
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("not JSON Lines: %v\n%s", err, out)
		}
		calls = append(calls, c)
	}
	return calls
}

func TestAuditQueryNumberInEveryForm(t *testing.T) {
	dir := auditFolder(t, false)
	for _, typed := range []string{"202-555-0199", "(202) 555-0199", "+12025550199", "2025550199", "1 202 555 0199", "+1-202-555-0199"} {
		out, err := runCmd(t, newAuditCmd(), "query", "--dir", dir, "--json", "--called", typed)
		calls := jsonCalls(t, out)
		if err != nil || len(calls) != 3 {
			t.Fatalf("--called %q: %v, %d calls\n%s", typed, err, len(calls), out)
		}
		for _, c := range calls {
			if c["decision"]["called"] != "+12025550199" {
				t.Errorf("--called %q found %v", typed, c["decision"]["called"])
			}
		}
	}
	if _, err := runCmd(t, newAuditCmd(), "query", "--dir", dir, "--called", "555-01"); err == nil || !strings.Contains(err.Error(), `--called: invalid number: "555-01" is`) {
		t.Errorf("a number that cannot be: %v", err)
	}
	missing := filepath.Join(dir, "elsewhere")
	if _, err := runCmd(t, newAuditCmd(), "stats", "--dir", missing); err == nil || !strings.Contains(err.Error(), "no decision log in "+missing) {
		t.Errorf("a folder that is not there: %v", err)
	}
}

func TestAuditQueryJoinsAndFilters(t *testing.T) {
	dir := auditFolder(t, false)
	out, err := runCmd(t, newAuditCmd(), "query", "--dir", dir, "--json", "--called", "202-555-0199")
	calls := jsonCalls(t, out)
	if err != nil || len(calls) != 3 {
		t.Fatalf("%v\n%s", err, out)
	}
	if calls[0]["outcome"] != nil || calls[1]["outcome"]["disposition"] != "answered" || calls[2]["outcome"]["disposition"] != "busy" {
		t.Errorf("decisions and outcomes not joined: %v", calls)
	}
	// Each record as stored: its hash is there to check.
	if h, _ := calls[1]["outcome"]["hash"].(string); len(h) != 64 {
		t.Errorf("the outcome is not the stored record: %v", calls[1]["outcome"])
	}
	for _, tc := range []struct {
		args []string
		ids  []string
	}{
		{[]string{"--decision", "reject"}, []string{"a1@dialer"}},
		{[]string{"--rule", "default", "--campaign", "summer"}, []string{"a3@dialer", "a4@dialer-with-a-very-long-call-id-that-goes-on"}},
		{[]string{"--status", "486"}, []string{"a4@dialer-with-a-very-long-call-id-that-goes-on"}},
		{[]string{"--seller", "acme", "--called", "202-555-0199"}, []string{"a2@dialer", "a4@dialer-with-a-very-long-call-id-that-goes-on"}},
		{[]string{"--caller", "(312) 555-0100", "--dialer", "predictive", "--limit", "2"}, []string{"a1@dialer", "a2@dialer"}},
		{[]string{"--call-id", "a3@dialer"}, []string{"a3@dialer"}},
		{[]string{"--since", "2031-05-02T00:00:00Z", "--until", "2031-05-02T12:00:00Z"}, []string{"a2@dialer"}},
		{[]string{"--utc", "--since", "2031-05-02", "--until", "2031-05-02"}, []string{"a2@dialer", "a3@dialer", "a4@dialer-with-a-very-long-call-id-that-goes-on"}},
		{[]string{"--utc", "--until", "2031-05-01 16:00:01"}, []string{"a1@dialer"}},
	} {
		out, err := runCmd(t, newAuditCmd(), append([]string{"query", "--dir", dir, "--json"}, tc.args...)...)
		var ids []string
		for _, c := range jsonCalls(t, out) {
			ids = append(ids, c["decision"]["call_id"].(string))
		}
		if err != nil || !slices.Equal(ids, tc.ids) {
			t.Errorf("%v: %v, %v; want %v", tc.args, ids, err, tc.ids)
		}
	}
}

func TestAuditQueryCSVTableAndLong(t *testing.T) {
	dir := auditFolder(t, false)
	out, err := runCmd(t, newAuditCmd(), "query", "--dir", dir, "--csv", "--utc")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 5 || !slices.Equal(rows[0], audit.CSVColumns) {
		t.Fatalf("CSV: %v\n%s", err, out)
	}
	col := func(name string) int { return slices.Index(audit.CSVColumns, name) }
	if r := rows[1]; r[col("campaign")] != `spring, "early"` || r[col("decision")] != "reject" || r[col("time")] != "2031-05-01T16:00:00Z" || r[col("disposition")] != "" {
		t.Errorf("CSV row of the rejected call: %q", r)
	}
	if r := rows[2]; r[col("disposition")] != "answered" || r[col("duration_s")] != "175.5" || r[col("seller")] != "acme" {
		t.Errorf("CSV row of the answered call: %q", r)
	}

	out, err = runCmd(t, newAuditCmd(), "query", "--dir", dir, "--table", "--utc")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if err != nil || len(lines) != 5 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("table: %v\n%s", err, out)
	}
	// Aligned: each column starts at the header's offset, in every row.
	for _, name := range []string{"CALLED", "DECISION", "RULE", "OUTCOME", "CALL-ID"} {
		at := strings.Index(lines[0], name)
		for _, l := range lines[1:] {
			if r := []rune(l); len(r) <= at || r[at-1] != ' ' || r[at] == ' ' {
				t.Errorf("column %s is not aligned in\n%s", name, out)
			}
		}
	}
	if !strings.Contains(lines[1], "2031-05-01 16:00:00 UTC") || !strings.Contains(lines[2], "answered 2m56s") ||
		strings.Contains(out, "goes-on") || !strings.Contains(lines[4], "…") {
		t.Errorf("table cells: times with their zone, outcomes, long values cut:\n%s", out)
	}
	out, err = runCmd(t, newAuditCmd(), "query", "--dir", dir, "--long", "--decision", "reject")
	for _, want := range []string{"call a1@dialer", `decision  reject 603 "Decline" by rule internal-dnc`, "internal-dnc: matched",
		"listed holds, value \"internal\", data version 7", "caller-id: did not match", "caller_id does not hold, value \"valid\"", "policy    sha256 abab", "record    seq "} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("--long lacks %q: %v\n%s", want, err, out)
		}
	}
	out, err = runCmd(t, newAuditCmd(), "query", "--dir", dir, "--long", "--call-id", "a2@dialer")
	for _, want := range []string{"internal-dnc: did not match\n              listed does not hold, data version 7\n",
		"dnc: did not match\n              listed does not hold, data versions 8, 9\n"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("--long lacks %q: %v\n%s", want, err, out)
		}
	}
	if _, err := runCmd(t, newAuditCmd(), "query", "--dir", dir, "--json", "--csv"); err == nil {
		t.Error("two output forms at once passed")
	}
}

func TestAuditStats(t *testing.T) {
	dir := auditFolder(t, false)
	out, err := runCmd(t, newAuditCmd(), "stats", "--dir", dir, "--utc", "--by", "day,rule", "--csv")
	rows, cerr := csv.NewReader(strings.NewReader(out)).ReadAll()
	want := [][]string{{"day", "rule", "calls", "allowed", "rejected", "reject_pct", "monitored"},
		{"2031-05-01", "internal-dnc", "1", "0", "1", "100.0", "0"},
		{"2031-05-02", "default", "3", "3", "0", "0.0", "0"}}
	if err != nil || cerr != nil || !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("stats --csv: %v %v\n%s", err, cerr, out)
	}
	out, err = runCmd(t, newAuditCmd(), "stats", "--dir", dir, "--by", "campaign", "--called", "202-555-0199", "--json")
	var first map[string]any
	if err != nil || json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &first) != nil ||
		first["campaign"] != "spring" || first["calls"] != 1.0 || first["reject_rate"] != 0.0 {
		t.Errorf("stats --json: %v\n%s", err, out)
	}
	out, err = runCmd(t, newAuditCmd(), "stats", "--dir", dir, "--by", "rule", "--table")
	if err != nil || !regexp.MustCompile(`(?m)^internal-dnc +1 +0 +1 +100\.0 +0$`).MatchString(out) || !regexp.MustCompile(`(?m)^total +4 +3 +1 +25\.0 +0$`).MatchString(out) {
		t.Errorf("stats table:\n%s", out)
	}
	if _, err := runCmd(t, newAuditCmd(), "stats", "--dir", dir, "--by", "colour"); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("--by colour: %v", err)
	}
}

// A running server's folder (the writer holds it and appends to today's
// file) and a copy of it elsewhere answer the same.
func TestAuditQueryRunningAndCopiedFolder(t *testing.T) {
	dir := auditFolder(t, true)
	running, err := runCmd(t, newAuditCmd(), "query", "--dir", dir, "--json", "--called", "202-555-0199")
	if err != nil || len(jsonCalls(t, running)) != 3 {
		t.Fatalf("running folder: %v\n%s", err, running)
	}
	copied := t.TempDir()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "decisions-") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copied, e.Name()), data, 0o440); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := runCmd(t, newAuditCmd(), "query", "--dir", copied, "--json", "--called", "202-555-0199"); err != nil || out != running {
		t.Errorf("the copy answers otherwise: %v\n%s\nwant\n%s", err, out, running)
	}
}

// A --rule that no policy kept in the audit folder has (a typo) is told
// apart from a rule that decided no call in the range asked.
func TestAuditQueryTellsARuleNoPolicyHad(t *testing.T) {
	dir := auditFolder(t, false)
	policyText := "lists:\n  internal: the company's own list\nrules:\n  - name: internal-dnc\n    match:\n      listed: [internal]\n    action: reject\n"
	if _, err := audit.ArchivePolicy(dir, []byte(policyText)); err != nil {
		t.Fatal(err)
	}
	out, _ := runCmd(t, newAuditCmd(), "query", "--dir", dir, "--rule", "internal_dnc")
	if want := `has a rule named "internal_dnc" (rules: default, internal-dnc)`; !strings.Contains(out, want) {
		t.Errorf("a rule no policy had: %q, want it to say %q", out, want)
	}
	out, _ = runCmd(t, newAuditCmd(), "query", "--dir", dir, "--rule", "internal-dnc", "--since", "2032-01-01")
	if strings.Contains(out, "has a rule named") {
		t.Errorf("a rule that decided no call in the range was called unknown: %q", out)
	}
}
