package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// Nothing a decision names points outside the audit folder: every policy
// that took effect (start, reload) is archived there by its SHA-256 with a
// policy_loaded record, and every import, live opt-out and consent change,
// with or without a server running, has a data_change record. The evidence
// of a call rejected for a listed number then holds the import of the list's
// version and the policy text, and checks offline.
func TestEveryPolicyAndDataVersionResolvesInTheAuditFolder(t *testing.T) {
	g := newGatekeeper(t)
	g.importList("internal", "9725550100") // no server: the CLI records it
	g.start()
	out, err := g.run("dnc", "add", "--list", "internal", "--reason", "asked on the call", "3035550100")
	if err != nil {
		t.Fatalf("dnc add: %v\n%s", err, out)
	}
	if out, err := g.run("consent", "add", "--kind", "written", "--seller", "acme", cleanNumber); err != nil {
		t.Fatalf("consent add: %v\n%s", err, out)
	}
	policyFile := filepath.Join(g.dir, "policy.yaml")
	text, _ := os.ReadFile(policyFile)
	writeFile(t, policyFile, "# reviewed by legal\n"+string(text))
	g.cmd.Process.Signal(syscall.SIGHUP)
	g.waitLog("policy reloaded")
	g.importList("internal", "9725550100", listedNumber) // through the server
	g.dial(dialerIP, "uac_reject.xml", listedNumber, "-set", "expect", "603").mustPass()
	g.stop()
	if out, err := g.run("dnc", "remove", "--list", "internal", "3035550100"); err != nil { // no server again
		t.Fatalf("dnc remove: %v\n%s", err, out)
	}

	loads := g.auditLog("policy_loaded")
	if len(loads) != 2 || loads[0]["trigger"] != "start" || loads[1]["trigger"] != "SIGHUP" || loads[0]["policy_sha256"] == loads[1]["policy_sha256"] {
		t.Fatalf("policy_loaded records: %v", loads)
	}
	for _, l := range loads {
		if _, err := os.Stat(filepath.Join(g.dir, "audit", "policies", l["policy_sha256"].(string)+".yaml")); err != nil {
			t.Errorf("policy %s is not archived: %v", l["policy_sha256"], err)
		}
	}
	var changes []string
	versions := map[float64]bool{}
	for _, c := range g.auditLog("data_change") {
		changes = append(changes, fmt.Sprintf("%s %s %v %s", c["change"], c["list"], c["number"], strings.SplitN(c["via"].(string), " ", 2)[0]))
		versions[c["version"].(float64)] = true
		if c["by"] == "" || c["host"] == "" {
			t.Errorf("a change without who or where: %v", c)
		}
		if c["change"] == "import" {
			files, _ := c["files"].([]any)
			if len(files) != 1 || len(files[0].(map[string]any)["sha256"].(string)) != 64 || c["count"] == nil {
				t.Errorf("an import without its file's SHA-256 or its count: %v", c)
			}
		}
	}
	want := []string{"import internal <nil> cli", "dnc add internal +13035550100 cli", "consent add consent +12025550143 cli",
		"import internal <nil> admin", "dnc remove internal +13035550100 cli"}
	if strings.Join(changes, "|") != strings.Join(want, "|") {
		t.Errorf("data changes:\n%s\nwant\n%s", strings.Join(changes, "\n"), strings.Join(want, "\n"))
	}

	decisions := g.auditRecords()
	if len(decisions) != 1 || decisions[0]["policy_sha256"] != loads[1]["policy_sha256"] {
		t.Fatalf("decisions: %v", decisions)
	}
	cited := 0
	for _, rule := range g.traceOf(decisions[0]) {
		for _, c := range rule.Conditions {
			for _, v := range c.DataVersions() {
				cited++
				if !versions[float64(v)] {
					t.Errorf("the decision cites data version %v, which no data_change record names", v)
				}
			}
		}
	}
	if cited == 0 {
		t.Fatalf("the decision cites no data version: %v", decisions[0])
	}

	bundle := filepath.Join(g.dir, "evidence.json")
	if out, err := g.run("audit", "evidence", "--call-id", decisions[0]["call_id"].(string), "-o", bundle); err != nil {
		t.Fatalf("audit evidence: %v %s", err, out)
	}
	data, _ := os.ReadFile(bundle)
	if !strings.Contains(string(data), `"change":"import"`) || !strings.Contains(string(data), "# reviewed by legal") || strings.Contains(string(data), "3035550100") {
		t.Errorf("the bundle lacks the list's import or the policy text, or names another number:\n%s", data)
	}
	// The decision names the import's record by its hash, which proves it.
	imports := g.auditLog("data_change")
	if names, _ := decisions[0]["data_hashes"].([]any); len(names) != 1 || names[0] != imports[3]["hash"] {
		t.Errorf("the decision names %v; want the hash of the import it cites, %v", decisions[0]["data_hashes"], imports[3])
	}
	if out, err := g.run("audit", "verify-evidence", bundle); err != nil || !strings.Contains(out, "decision 1, outcome 0, data_change 1 (1 of them proven by their hash in another proven record)\n") {
		t.Errorf("audit verify-evidence: %v %s", err, out)
	}
	// The import altered in the bundle: no record names it any more, and
	// the proof does not hold it.
	writeFile(t, bundle, strings.Replace(string(data), `"change":"import"`, `"change":"imported"`, 1))
	if out, err := g.run("audit", "verify-evidence", bundle); err == nil || !strings.Contains(out, "not in the checkpoint's tree") {
		t.Errorf("audit verify-evidence of a bundle whose named import was altered: %v %s", err, out)
	}
	if out, err := g.run("audit", "verify"); err != nil || !strings.Contains(out, "8 records intact") {
		t.Errorf("audit verify: %v %s", err, out)
	}
}

// An import whose record a crash lost (the registry switched to the new
// version, the log never got its data_change record: a SIGKILL between the
// two) is recorded at the next start, once, from what the registry keeps of
// the version, before any decision; the decision citing the version names
// that record, and the log and the call's evidence verify.
func TestAnImportWhoseRecordACrashLostIsRecordedAtTheNextStart(t *testing.T) {
	g := newGatekeeper(t)
	g.importList("internal", "9725550100") // recorded by the CLI: version 1
	info := importUnrecorded(t, g, listedNumber)
	g.start()
	g.dial(dialerIP, "uac_reject.xml", listedNumber, "-set", "expect", "603").mustPass()
	g.stop()
	g.start() // a second start finds the version recorded
	g.stop()

	changes := g.auditLog("data_change")
	if len(changes) != 2 || changes[0]["recovered"] != nil {
		t.Fatalf("data_change records: %v", changes)
	}
	got := changes[1]
	files, _ := got["files"].([]any)
	if got["change"] != "import" || got["list"] != "internal" || got["version"] != float64(info.Version) || got["source_date"] != "2026-01-05" ||
		got["count"] != float64(1) || len(files) != 1 || files[0].(map[string]any)["sha256"] != info.Sources[0].SHA256 ||
		!strings.Contains(fmt.Sprint(got["recovered"]), "lost in a crash") || got["via"] != "serve" {
		t.Errorf("the lost import's record: %v\nwant version %d of internal, its file's SHA-256 %s", got, info.Version, info.Sources[0].SHA256)
	}
	decisions := g.auditRecords()
	if len(decisions) != 1 || decisions[0]["seq"].(float64) < got["seq"].(float64) {
		t.Fatalf("decisions: %v (want one, after seq %v)", decisions, got["seq"])
	}
	if names, _ := decisions[0]["data_hashes"].([]any); len(names) != 1 || names[0] != got["hash"] {
		t.Errorf("the decision names %v; want the recorded import's hash %v", decisions[0]["data_hashes"], got["hash"])
	}
	bundle := filepath.Join(g.dir, "evidence.json")
	if out, err := g.run("audit", "evidence", "--call-id", decisions[0]["call_id"].(string), "-o", bundle); err != nil {
		t.Fatalf("audit evidence: %v %s", err, out)
	}
	if out, err := g.run("audit", "verify-evidence", bundle); err != nil || !strings.Contains(out, "data_change 1 (1 of them proven by their hash in another proven record)") {
		t.Errorf("audit verify-evidence: %v %s", err, out)
	}

	// With no server, a command that records a change records the lost import first.
	info = importUnrecorded(t, g, listedNumber, "9725550100")
	if out, err := g.run("dnc", "add", "--list", "internal", "3035550100"); err != nil {
		t.Fatalf("dnc add: %v\n%s", err, out)
	}
	changes = g.auditLog("data_change")
	if len(changes) != 4 || changes[2]["version"] != float64(info.Version) || changes[2]["via"] != "cli" || changes[2]["recovered"] == nil ||
		changes[3]["change"] != "dnc add" || changes[3]["version"] != float64(info.Version) {
		t.Errorf("data_change records after a CLI change: %v", changes)
	}
	if out, err := g.run("audit", "verify"); err != nil || !strings.Contains(out, "intact") {
		t.Errorf("audit verify: %v %s", err, out)
	}
}

// importUnrecorded imports numbers into list internal straight into the
// registry, as a crash leaves an import the log never got the record of.
func importUnrecorded(t *testing.T, g *gatekeeper, numbers ...string) registry.ListInfo {
	t.Helper()
	store, err := registry.Open(registry.DefaultOptions(filepath.Join(g.dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(g.dir, fmt.Sprintf("internal-%d.txt", len(numbers)))
	writeFile(t, f, strings.Join(numbers, "\n")+"\n")
	info, err := store.Import(context.Background(), registry.ImportRequest{List: "internal", Files: []string{f}, Replace: true, SourceDate: "2026-01-05"})
	if cerr := store.Close(); err != nil || cerr != nil {
		t.Fatalf("import without a record: %v, %v", err, cerr)
	}
	return info
}
