package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/internal/admin"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// runCmd runs the subcommand cmd with args under the root command, which
// holds --config.
func runCmd(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd(cmd)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{cmd.Name()}, args...))
	err := root.Execute()
	return out.String(), err
}

// testListsPolicy declares the two lists the registry commands' tests
// use, and no rule.
const testListsPolicy = "lists:\n  internal: the company's own list\n  ftc: the national list\nrules: []\n"

// registryTestDir writes a config (data_dir data, testListsPolicy,
// the admin socket in a short temporary path: unix socket paths are
// limited to ~108 bytes) and files into a new folder.
func registryTestDir(t *testing.T, files map[string]string) (dir, cfg, socket string) {
	t.Helper()
	dir = t.TempDir()
	sockDir, err := os.MkdirTemp("", "gk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	socket = filepath.Join(sockDir, "admin.sock")
	files["gatekeeper.yaml"] = "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: \"sip:127.0.0.1:5070\"\n" +
		"dialers:\n  - name: predictive\n    sources: [\"127.0.0.0/8\"]\n" +
		"data_dir: data\npolicy: policy.yaml\nadmin:\n  socket: " + socket + "\n"
	files["policy.yaml"] = testListsPolicy
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, filepath.Join(dir, "gatekeeper.yaml"), socket
}

// serveAdmin serves store's admin API on socket, as a running server does,
// until stop (or the test's end); it returns once the socket answers.
func serveAdmin(t *testing.T, socket string, store *registry.Store) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- admin.Serve(ctx, socket, admin.NewHandler(store)) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-served }) }
	t.Cleanup(stop)
	for deadline := time.Now().Add(5 * time.Second); admin.NewClient(socket).Ping(context.Background()) != nil; {
		if time.Now().After(deadline) {
			t.Fatal("admin socket never answered")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return stop
}

// The registry commands work on the store directly, through a running
// server's admin socket, and say clearly when neither is possible.
func TestRegistryCommandsWithAndWithoutServer(t *testing.T) {
	dir, cfg, socket := registryTestDir(t, map[string]string{"a.txt": "2025550143\n", "b.txt": "2025550199\n"})
	t.Chdir(dir) // relative file arguments, as a user types them

	// No server: the CLI opens the store itself.
	out, err := runCmd(t, newImportCmd(), "--config", cfg, "--list", "internal", "a.txt")
	if err != nil || !strings.Contains(out, "imported list internal: version 1, 1 numbers") || !strings.Contains(out, filepath.Join(dir, "a.txt")) {
		t.Fatalf("import: %v\n%s", err, out)
	}
	out, err = runCmd(t, newLookupCmd(), "--config", cfg, "--json", "202-555-0143", "2025550199")
	var first, second lookupResult
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &first) != nil || json.Unmarshal([]byte(lines[1]), &second) != nil {
		t.Fatalf("lookup --json: %v\n%s", err, out)
	}
	if first.Number != "+12025550143" || len(first.Lists) != 1 || first.Lists[0] != "internal" || first.Versions["internal"] != 1 {
		t.Errorf("lookup of a listed number: %+v", first)
	}
	if second.Number != "+12025550199" || second.Lists == nil || len(second.Lists) != 0 || !strings.Contains(lines[1], `"lists":[]`) {
		t.Errorf("lookup of an unlisted number: %s", lines[1])
	}

	// A server holds the store: the same commands go through its socket.
	store, err := registry.Open(registry.DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stop := serveAdmin(t, socket, store)
	// b.txt lacks a.txt's number: as a full import it would empty the list, and the server refuses it.
	_, err = runCmd(t, newImportCmd(), "--config", cfg, "--list", "internal", "b.txt")
	if err == nil || !strings.Contains(err.Error(), "list internal: a full import would remove too much of the list: 1 of its 1 numbers would go (100%, more than the 10%") ||
		!strings.Contains(err.Error(), "--delta") || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("a shrinking import through the server: %v", err)
	}
	if ok, _, _ := store.Listed("internal", "+12025550143"); !ok {
		t.Error("the refused import changed the server's list")
	}
	out, err = runCmd(t, newImportCmd(), "--config", cfg, "--list", "internal", "--replace", "b.txt")
	if err != nil || !strings.Contains(out, "version 2, 1 numbers") {
		t.Fatalf("import through the server: %v\n%s", err, out)
	}
	if ok, _, _ := store.Listed("internal", "+12025550199"); !ok {
		t.Error("the server's store does not see the import made through its socket")
	}
	out, err = runCmd(t, newListsCmd(), "--config", cfg)
	if err != nil || !regexp.MustCompile(`internal +2 +\d{4}-\d\d-\d\d +\S+ +1 +\+0 -0 +\d+ B .* full\n`).MatchString(out) {
		t.Errorf("lists through the server: %v\n%s", err, out)
	}
	out, err = runCmd(t, newLookupCmd(), "--config", cfg, "2025550199")
	if err != nil || strings.TrimSpace(out) != "+12025550199  internal (version 2)" {
		t.Errorf("lookup through the server: %v\n%s", err, out)
	}
	// A live opt-out through the server: the server's store sees it at once,
	// and the record says who and how.
	out, err = runCmd(t, newDncCmd(), "--config", cfg, "add", "--list", "internal", "--reason", "asked on the call", "(303) 555-0100")
	if err != nil || !strings.HasPrefix(out, "+13035550100  internal: listed (add by ") {
		t.Fatalf("dnc add through the server: %v\n%s", err, out)
	}
	if ok, _, _ := store.Listed("internal", "+13035550100"); !ok {
		t.Error("the server's store does not see the live opt-out")
	}
	out, err = runCmd(t, newLookupCmd(), "--config", cfg, "--json", "3035550100")
	var live lookupResult
	if err != nil || json.Unmarshal([]byte(out), &live) != nil || len(live.Lists) != 1 || len(live.Live) != 1 ||
		live.Live[0].Reason != "asked on the call" || !strings.HasPrefix(live.Live[0].Via, "cli through the admin socket (uid ") {
		t.Errorf("lookup --json of a live opt-out: %v\n%s", err, out)
	}

	// The store is still held but nobody answers on the socket.
	stop()
	_, err = runCmd(t, newListsCmd(), "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), socket) {
		t.Errorf("locked store without a server: %v", err)
	}
}

// Import's flags: change lists, formats, the source date, skipping bad lines.
func TestImportFlags(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	files := map[string]string{
		"full.txt":    "2025550143\n2025550144\n",
		"changes.txt": "2025550143,2026-11-20,D\n2025550199,2026-11-20,A\n",
		"crm.csv":     "name,tel\nAnn,(617) 555-0123\n",
		"bad.txt":     "2025550143\nnope\n",
	}
	for name, text := range files {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data := []string{"--data-dir", "data"}
	out, err := runCmd(t, newImportCmd(), append(data, "--list", "ftc", "--source-date", "2026-11-19", "full.txt")...)
	if err != nil || !strings.Contains(out, "imported list ftc: version 1, 2 numbers, data as of 2026-11-19 (given)") || !strings.Contains(out, "full.txt: ftc, recognized") {
		t.Fatalf("full import: %v\n%s", err, out)
	}
	out, err = runCmd(t, newImportCmd(), append(data, "--list", "ftc", "--delta", "changes.txt")...)
	if err != nil || !strings.Contains(out, "applied changes to list ftc: version 2, 2 numbers (+1 added, -1 removed), data as of 2026-11-20 (change list dates)") {
		t.Fatalf("delta: %v\n%s", err, out)
	}
	out, err = runCmd(t, newImportCmd(), append(data, "--list", "crm", "--undeclared", "--format", "csv", "--column", "tel", "crm.csv")...)
	if err != nil || !strings.Contains(out, "crm.csv: csv (column tel)\n") {
		t.Fatalf("csv: %v\n%s", err, out)
	}
	if _, err = runCmd(t, newImportCmd(), append(data, "--list", "x", "--format", "xml", "full.txt")...); err == nil || !strings.Contains(err.Error(), `unknown format "xml"`) {
		t.Errorf("unknown format: %v", err)
	}
	if _, err = runCmd(t, newImportCmd(), append(data, "--list", "x", "--undeclared", "bad.txt")...); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "bad.txt")+":2: ") {
		t.Errorf("bad line: %v", err)
	}
	out, err = runCmd(t, newImportCmd(), append(data, "--list", "x", "--undeclared", "--skip-invalid", "--invalid-report", "bad-lines.txt", "bad.txt")...)
	report, _ := os.ReadFile("bad-lines.txt")
	if err != nil || !strings.Contains(out, "1 malformed lines skipped, listed in "+filepath.Join(dir, "bad-lines.txt")) || !strings.HasPrefix(string(report), filepath.Join(dir, "bad.txt")+":2: ") {
		t.Errorf("--skip-invalid: %v\n%s\nreport: %s", err, out, report)
	}
	out, err = runCmd(t, newListsCmd(), append(data, "--version", "2")...)
	var v2 registry.ListInfo
	if err != nil || json.Unmarshal([]byte(out), &v2) != nil || v2.Name != "ftc" || !v2.Delta || v2.SourceDate != "2026-11-20" || len(v2.Sources[0].SHA256) != 64 {
		t.Errorf("lists --version 2: %v\n%s", err, out)
	}
	out, err = runCmd(t, newLookupCmd(), append(data, "2025550143", "2025550199", "6175550123")...)
	want := "+12025550143  x (version 4)\n+12025550199  ftc (version 2)\n+16175550123  crm (version 3)\n"
	if err != nil || out != want {
		t.Errorf("lookup: %v\n%s\nwant\n%s", err, out, want)
	}
}

func TestDncCommands(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // the embedded config's audit folder, where the changes are recorded
	data := []string{"--data-dir", filepath.Join(dir, "data")}
	out, err := runCmd(t, newDncCmd(), append([]string{"add", "--list", "internal", "--reason", "asked twice"}, append(data, "2025550143", "+44 20 7946 0958")...)...)
	user := operator()
	if err != nil || out != "+12025550143  internal: listed (add by "+user+")\n+442079460958  internal: listed (add by "+user+")\n" {
		t.Fatalf("dnc add: %v\n%q", err, out)
	}
	out, err = runCmd(t, newDncCmd(), append([]string{"remove", "--list", "internal"}, append(data, "2025550143", "2025550199")...)...)
	if err != nil || out != "+12025550143  internal: unlisted (remove by "+user+")\n+12025550199  internal: was not listed (remove by "+user+")\n" {
		t.Fatalf("dnc remove: %v\n%q", err, out)
	}
	out, err = runCmd(t, newLookupCmd(), append(data, "2025550143")...)
	if err != nil || !strings.Contains(out, "+12025550143  on no list\n") || strings.Count(out, "  history:  ") != 2 ||
		!strings.Contains(out, "add listed on internal at ") || !strings.Contains(out, `by `+user+` via cli: "asked twice"`) {
		t.Errorf("lookup after dnc: %v\n%s", err, out)
	}
	out, err = runCmd(t, newListsCmd(), data...)
	if err != nil || !regexp.MustCompile(`internal +0 +- +- +0 +\+1 -0 +0 B +- +live changes only`).MatchString(out) {
		t.Errorf("lists: %v\n%s", err, out)
	}
	if _, err := runCmd(t, newDncCmd(), append([]string{"add", "--list", "internal"}, append(data, "555-0143")...)...); err == nil {
		t.Error("an unreadable number was accepted")
	}
	if _, err := runCmd(t, newDncCmd(), append([]string{"add"}, append(data, "2025550143")...)...); err == nil || !strings.Contains(err.Error(), "--list") {
		t.Errorf("no --list: %v", err)
	}
	// With no server, the CLI recorded each change of one number in the audit log itself.
	logged, _ := filepath.Glob(filepath.Join(dir, "var", "audit", "decisions-*.jsonl"))
	var records []string
	for _, f := range logged {
		text, _ := os.ReadFile(f)
		records = append(records, regexp.MustCompile(`"change":"[^"]*".*?"number":"[^"]*"`).FindAllString(string(text), -1)...)
	}
	want := []string{`"change":"dnc add","data_kind":"dnc","list":"internal","version":0,"number":"+12025550143"`,
		`"change":"dnc add","data_kind":"dnc","list":"internal","version":0,"number":"+442079460958"`,
		`"change":"dnc remove","data_kind":"dnc","list":"internal","version":0,"number":"+12025550143"`,
		`"change":"dnc remove","data_kind":"dnc","list":"internal","version":0,"number":"+12025550199"`}
	if strings.Join(records, "\n") != strings.Join(want, "\n") {
		t.Errorf("data_change records:\n%s\nwant\n%s", strings.Join(records, "\n"), strings.Join(want, "\n"))
	}
}

func TestAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		40 * time.Second:                 "40s",
		2*time.Hour + 5*time.Minute:      "2h5m",
		(3*24+4)*time.Hour + time.Minute: "3d4h",
		-time.Second:                     "0s",
	} {
		if got := age(d); got != want {
			t.Errorf("age(%s) = %s; want %s", d, got, want)
		}
	}
}

// A command that only reads creates nothing, and where nothing is found it
// names the folder it looked in; the embedded config's data_dir is taken
// from the working directory, a config file's from the file's folder.
func TestReadingCommandsCreateNothingAndNameTheFolder(t *testing.T) {
	work := t.TempDir()
	t.Chdir(work)
	conf := filepath.Join(work, "conf")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	cfgText := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: \"sip:127.0.0.1:5070\"\n" +
		"dialers:\n  - name: predictive\n    sources: [\"127.0.0.0/8\"]\n" +
		"data_dir: ./var/data\npolicy: policy.yaml\n"
	for name, text := range map[string]string{"gatekeeper.yaml": cfgText, "policy.yaml": "rules: []\n"} {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		args []string
		dir  string
	}{
		{nil, filepath.Join(work, "var", "data")},
		{[]string{"--config", "conf/gatekeeper.yaml"}, filepath.Join(conf, "var", "data")},
	} {
		out, err := runCmd(t, newListsCmd(), c.args...)
		if err != nil || !strings.Contains(out, "no lists imported yet in "+c.dir+" ") {
			t.Errorf("lists %v: %v %q; want the folder %s named", c.args, err, out, c.dir)
		}
		out, err = runCmd(t, newLookupCmd(), append(c.args, "2025550143")...)
		if err != nil || !strings.Contains(out, "no lists imported yet in "+c.dir+" ") || !strings.Contains(out, "+12025550143  on no list") {
			t.Errorf("lookup %v: %v %q", c.args, err, out)
		}
		out, err = runCmd(t, newListsCmd(), append(c.args, "--version", "9")...)
		if err == nil || !strings.HasSuffix(err.Error(), "no import with id 9 in the registry in "+c.dir) {
			t.Errorf("lists --version %v: %v", c.args, err)
		}
		out, err = runCmd(t, newAuditCmd(), append([]string{"verify"}, c.args...)...)
		if audit := filepath.Join(filepath.Dir(filepath.Dir(c.dir)), "var", "audit"); err == nil || !strings.HasPrefix(err.Error(), "no decision log in "+audit+": the folder does not exist") {
			t.Errorf("audit verify %v: %v", c.args, err)
		}
		if _, code, err := runCheck(append(c.args, "--to", "2025550143", "--at", "2026-11-20T12:00:00-05:00")...); code == 2 { // the embedded policy rejects: no national list
			t.Errorf("check %v: %d %v", c.args, code, err)
		}
	}
	for _, d := range []string{filepath.Join(work, "var"), filepath.Join(conf, "var")} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("a reading command created %s", d)
		}
	}
}

// import.max_removal in the config sets the share of a list a full import may
// remove without --replace; --replace goes with the list kinds only.
func TestImportMaxRemovalFromTheConfig(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	base := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: \"sip:127.0.0.1:5070\"\n" +
		"dialers:\n  - name: predictive\n    sources: [\"127.0.0.0/8\"]\n" +
		"data_dir: data\npolicy: policy.yaml\nadmin:\n  socket: data/admin.sock\n"
	files := map[string]string{
		"default.yaml": base,
		"half.yaml":    base + "import:\n  max_removal: 50%\n",
		"policy.yaml":  testListsPolicy,
		"four.txt":     "2025550141\n2025550142\n2025550143\n2025550144\n",
		"three.txt":    "2025550141\n2025550142\n2025550143\n",
		"two.txt":      "2025550141\n2025550142\n",
	}
	for name, text := range files {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runCmd(t, newImportCmd(), "--config", "default.yaml", "--list", "ftc", "four.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd(t, newImportCmd(), "--config", "default.yaml", "--list", "ftc", "three.txt"); err == nil || !strings.Contains(err.Error(), "1 of its 4 numbers would go (25%, more than the 10%") {
		t.Errorf("1 of 4 with the default share: %v", err)
	}
	if out, err := runCmd(t, newImportCmd(), "--config", "half.yaml", "--list", "ftc", "three.txt"); err != nil || !strings.Contains(out, "version 2, 3 numbers") {
		t.Errorf("1 of 4 with max_removal 50%%: %v\n%s", err, out)
	}
	if _, err := runCmd(t, newImportCmd(), "--config", "half.yaml", "--list", "ftc", "--delta", "--replace", "two.txt"); err == nil {
		t.Error("--delta with --replace was accepted")
	}
	if _, err := runCmd(t, newImportCmd(), "--config", "half.yaml", "--kind", "blocks", "--replace", "two.txt"); err == nil || !strings.Contains(err.Error(), "--replace apply to port lists and DNC lists") {
		t.Errorf("--replace with --kind blocks: %v", err)
	}
}

// A list the policy does not declare is refused by import and dnc, naming
// the lists it declares, and nothing changes: a misspelled name would make
// a list no rule reads. --undeclared takes it.
func TestAnUndeclaredListIsRefused(t *testing.T) {
	dir, cfg, _ := registryTestDir(t, map[string]string{"a.txt": "2025550143\n"})
	t.Chdir(dir)
	for _, args := range [][]string{{"import", "--list", "interal", "a.txt"}, {"dnc", "add", "--list", "interal", "2025550143"}} {
		cmd := newImportCmd()
		if args[0] == "dnc" {
			cmd = newDncCmd()
		}
		_, err := runCmd(t, cmd, append([]string{"--config", cfg}, args[1:]...)...)
		if err == nil || !strings.Contains(err.Error(), `list "interal" is not declared`) || !strings.Contains(err.Error(), "(declared: ftc, internal)") {
			t.Errorf("%s: %v", strings.Join(args, " "), err)
		}
	}
	if out, err := runCmd(t, newListsCmd(), "--config", cfg); err != nil || !strings.Contains(out, "no lists imported yet") {
		t.Errorf("lists after the refusals: %v\n%s", err, out)
	}
	if out, err := runCmd(t, newImportCmd(), "--config", cfg, "--list", "interal", "--undeclared", "a.txt"); err != nil || !strings.Contains(out, "imported list interal: version 1") {
		t.Errorf("--undeclared: %v\n%s", err, out)
	}
}
