package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/configs"
	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// loggedCall is a call the test decides with the real engine and logs.
type loggedCall struct {
	id, to string
	at     time.Duration // after noon at the called party
	flags  checkFlags
}

// replayCalls are decided under the shipped policy by checkSetup's registry:
// an opt-out, a national-list number, a clean number at noon and at night,
// a prerecorded call, and four calls to one Florida number within 30
// minutes, the fourth over Florida's cap of 3 a day.
var replayCalls = []loggedCall{
	{"optout", "2025550143", 0, checkFlags{}},
	{"national", "3055550100", time.Minute, checkFlags{}},
	{"clean", "2025550144", 2 * time.Minute, checkFlags{campaign: "spring", seller: "acme"}},
	{"night", "2125550143", 10 * time.Hour, checkFlags{}},
	{"voice", "2125550144", 3 * time.Minute, checkFlags{prerecorded: true}},
	{"fl-1", "3055550143", 10 * time.Minute, checkFlags{}},
	{"fl-2", "3055550143", 20 * time.Minute, checkFlags{}},
	{"fl-3", "3055550143", 30 * time.Minute, checkFlags{}},
	{"fl-4", "3055550143", 40 * time.Minute, checkFlags{}},
}

// logReplayCalls decides the calls with the shipped policy as the proxy
// does (attempts counted for forwarded calls) and writes their records
// with audit.Log to the config's audit folder, with the policy's text in
// its policies folder, as the server keeps it. It returns the audit folder.
func logReplayCalls(t *testing.T, cfgPath string, calls []loggedCall) string {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	text, err := configs.Files.ReadFile("policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	store, err := registry.Open(registry.DefaultOptions(cfg.Path(cfg.DataDir)))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	engine, err := policy.Parse("policy.yaml", text, store)
	if err != nil {
		t.Fatal(err)
	}
	dir := cfg.Path(cfg.Audit.Dir)
	log, err := audit.Open(dir, audit.Options{Version: "test", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	noon, _ := time.Parse(time.RFC3339, noonToday())
	ctx := context.Background()
	for _, lc := range calls {
		lc.flags.to = lc.to
		if lc.flags.from == "" {
			lc.flags.from = checkCallerID
		}
		c := checkCall(cfg, lc.flags, noon.Add(lc.at))
		c.CallID, c.Source = lc.id, "127.0.0.1:5080"
		d := engine.Decide(ctx, c)
		status := d.Status
		if d.Forward() {
			status = 200
			if err := engine.Forwarded(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		log.Append(auditRecord(c, d, status))
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, audit.PoliciesDir), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, audit.PoliciesDir, engine.SHA256()+".yaml"), text, 0o640); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runReplay(t *testing.T, cfgPath string, args ...string) replayReport {
	t.Helper()
	out, err := runCmd(t, newPolicyCmd(), append([]string{"replay", "--config", cfgPath, "--json"}, args...)...)
	if err != nil {
		t.Fatalf("replay %v: %v\n%s", args, err, out)
	}
	var rep replayReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return rep
}

// writePolicy writes the shipped policy changed by edit beside the config.
func writePolicy(t *testing.T, cfgPath, name string, edit func(string) string) string {
	t.Helper()
	text, err := configs.Files.ReadFile("policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	changed := edit(string(text))
	if changed == string(text) {
		t.Fatal("the edit changed nothing")
	}
	path := filepath.Join(filepath.Dir(cfgPath), name)
	if err := os.WriteFile(path, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReplayUnderTheDecidingPolicyChangesNothing(t *testing.T) {
	cfg := checkSetup(t)
	logReplayCalls(t, cfg, replayCalls)
	rep := runReplay(t, cfg, filepath.Join(filepath.Dir(cfg), "policy.yaml"))
	if rep.Calls != len(replayCalls) || rep.Changed != 0 || rep.Unchanged != len(replayCalls) || rep.Approximate != 0 || rep.PolicyNotArchived != 0 {
		t.Errorf("report %+v: want %d calls, none changed or approximate", rep, len(replayCalls))
	}
	want := map[string][2]int{"internal-dnc": {1, 1}, "national-dnc": {1, 1}, "default": {4, 4}, "federal-hours": {1, 1},
		"prerecorded-consent": {1, 1}, "state-frequency": {1, 1}}
	for _, u := range rep.Rules {
		if want[u.Rule] != [2]int{u.Old, u.New} {
			t.Errorf("rule %s: old %d, new %d; want %v", u.Rule, u.Old, u.New, want[u.Rule])
		}
		delete(want, u.Rule)
	}
	if len(want) != 0 {
		t.Errorf("rules missing from the report: %v", want)
	}

	// From after the third Florida call: the calls before it within the
	// cap's day count as the log says, so the fourth is still over the cap.
	noon, _ := time.Parse(time.RFC3339, noonToday())
	since := noon.Add(35 * time.Minute).UTC().Format(time.RFC3339)
	rep = runReplay(t, cfg, "--since", since, filepath.Join(filepath.Dir(cfg), "policy.yaml"))
	if rep.Calls != 2 || rep.Changed != 0 || rep.AttemptsFrom == nil {
		t.Errorf("since %s: %+v; want fl-4 and night unchanged, attempts counted from a day before", since, rep)
	}
}

func TestReplayReportsWhatANewPolicyChanges(t *testing.T) {
	cfg := checkSetup(t)
	logReplayCalls(t, cfg, replayCalls)
	// The opt-out list only monitored, and Florida's cap down to 2 a day.
	next := writePolicy(t, cfg, "next.yaml", func(s string) string {
		s = strings.Replace(s, "      listed: [internal]        # the called number is on any of these lists\n",
			"      listed: [internal]\n    monitor: true\n", 1)
		return strings.Replace(s, "attempts: {limit: 3, within: 24h}     # 3 calls per 24 h (same subject)", "attempts: {limit: 2, within: 24h}", 1)
	})
	rep := runReplay(t, cfg, "--samples", "5", next)
	if rep.Calls != len(replayCalls) || rep.Changed != 2 || rep.Approximate != 0 {
		t.Fatalf("report %+v: want 2 changed, none approximate", rep)
	}
	wantChanges := map[string]int{
		"internal-dnc reject 603 -> internal-dnc (monitor: would reject 603)": 1,
		"default allow -> state-frequency reject 480":                         1,
	}
	for _, ch := range rep.Changes {
		key := ch.Old.String() + " -> " + ch.New.String()
		if wantChanges[key] != ch.Calls {
			t.Errorf("change %s: %d calls", key, ch.Calls)
		}
		delete(wantChanges, key)
	}
	if len(wantChanges) != 0 {
		t.Errorf("changes missing: %v", wantChanges)
	}
	if len(rep.Samples) != 2 || rep.Samples[0].CallID != "optout" || rep.Samples[1].CallID != "fl-3" ||
		rep.Samples[1].Called != "+13055550143" || rep.Samples[1].New.Status != 480 {
		t.Errorf("samples %+v", rep.Samples)
	}

	out, err := runCmd(t, newPolicyCmd(), "replay", "--config", cfg, next)
	if err != nil || !strings.Contains(out, "calls 9, unchanged 7, changed 2") ||
		!regexp.MustCompile(`\ndefault allow +-> +state-frequency reject 480 +1\n`).MatchString(out) ||
		!regexp.MustCompile(`\nfl-3 +\S+ +\+13055550143 +default allow +state-frequency reject 480 +-\n`).MatchString(out) {
		t.Errorf("text report: %v\n%s", err, out)
	}
}

func TestReplayMarksAnswersOnChangedDataApproximate(t *testing.T) {
	cfg := checkSetup(t)
	logReplayCalls(t, cfg, replayCalls[:3])
	policyPath := filepath.Join(filepath.Dir(cfg), "policy.yaml")
	store, err := registry.Open(registry.DefaultOptions(filepath.Join(filepath.Dir(cfg), "data")))
	if err != nil {
		t.Fatal(err)
	}
	// The clean number opts out after its call; the national list is
	// imported again (a new version), without the national number.
	if _, err := store.ChangeLive(registry.LiveRequest{List: "internal", Numbers: []string{"+12025550144"}, By: "test", Via: "test"}); err != nil {
		t.Fatal(err)
	}
	ftc := filepath.Join(filepath.Dir(cfg), "ftc2.txt")
	if err := os.WriteFile(ftc, []byte("3055550199\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(context.Background(), registry.ImportRequest{List: "ftc", Files: []string{ftc}, Replace: true}); err != nil {
		t.Fatal(err)
	}
	store.Close()

	rep := runReplay(t, cfg, policyPath)
	// The traces of the national and the clean number's calls name the
	// national list's version (its age was checked), and the policy that
	// decided them decides them otherwise today. The opt-out's trace stops
	// at the internal list, whose version is current: it is exact.
	if rep.Calls != 3 || rep.Changed != 2 || rep.Approximate != 2 || rep.ApproximateChanged != 2 ||
		rep.ApproximateBy[approxDataVersion] != 2 || rep.ApproximateBy[approxRecordedPolicy] != 2 || len(rep.StaleVersions) != 1 {
		t.Errorf("report %+v", rep)
	}

	// Without the policy's text, only the versions are compared.
	if err := os.RemoveAll(filepath.Join(filepath.Dir(cfg), "var", "audit", audit.PoliciesDir)); err != nil {
		t.Fatal(err)
	}
	rep = runReplay(t, cfg, policyPath)
	if rep.PolicyNotArchived != 3 || rep.ApproximateBy[approxRecordedPolicy] != 0 || rep.Approximate != 2 {
		t.Errorf("without the policy text: %+v", rep)
	}
}

func TestReplayRecordWithoutCallFactsIsApproximate(t *testing.T) {
	with := []byte(`{"time":"2031-05-01T12:00:00.000000000Z","seq":1,"kind":"decision","seller":"","prerecorded":false}`)
	without := []byte(`{"time":"2031-05-01T12:00:00.000000000Z","seq":1,"kind":"decision","campaign":"","trace":[{"rule":"default","matched":true}]}`)
	compact := []byte(`{"time":"2031-05-01T12:00:00.000000000Z","seq":1,"kind":"decision","trace":{"internal-dnc":["listed"]}}`)
	if !hasCallFacts(with) || hasCallFacts(without) || !hasCallFacts(compact) {
		t.Error("hasCallFacts tells records apart by their seller field, or their compact trace")
	}
}
