package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/configs"
	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// checkSetup writes a config beside the shipped policy and imports the
// internal list into its registry; it returns the config's path.
func checkSetup(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	policyText, err := configs.Files.ReadFile("policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfgText := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: \"sip:127.0.0.1:5070\"\n" +
		"dialers:\n  - name: predictive\n    sources: [\"127.0.0.0/8\"]\n    automated: true\n" +
		"data_dir: data\npolicy: policy.yaml\n"
	files := map[string][]byte{"gatekeeper.yaml": []byte(cfgText), "policy.yaml": policyText,
		"optouts.txt": []byte("2025550143\n"), "ftc.txt": []byte("3055550100\n")}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	store, err := registry.Open(registry.DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for list, file := range map[string]string{"internal": "optouts.txt", "ftc": "ftc.txt"} {
		req := registry.ImportRequest{List: list, Files: []string{filepath.Join(dir, file)}}
		if _, err := store.Import(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	// The shipped policy wants consent for automated calls to mobiles and to
	// numbers of unknown line type: the test numbers' exchanges are landlines.
	blocks := filepath.Join(dir, "blocks.csv")
	if err := os.WriteFile(blocks, []byte("npa,nxx,type\n202,555,landline\n212,555,landline\n305,555,landline\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := store.ImportDataSet(context.Background(), registry.DataSetRequest{Kind: registry.KindBlocks, Files: []string{blocks}}); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "gatekeeper.yaml")
}

func runCheck(args ...string) (out string, code int, err error) {
	root := newRootCmd(newCheckCmd())
	var buf bytes.Buffer
	root.SetOut(&buf)
	root.SetArgs(append([]string{"check"}, args...))
	if err = root.Execute(); err != nil {
		code = exitCode(err)
	}
	return buf.String(), code, err
}

func TestCheckPrintsDecisionAndExitStatus(t *testing.T) {
	cfg := checkSetup(t)
	cases := []struct {
		to, firstLine string
		code          int
	}{
		{"2025550143", "reject 603 Decline (rule internal-dnc)", 1},
		{"+1 (202) 555-0143", "reject 603 Decline (rule internal-dnc)", 1},
		{"2025550144", "allow (rule default)", 0},
		{"55", "reject 484 Address Incomplete (rule invalid-number)", 1},
		// Numbers that cannot exist: N11 area codes, an N9X expansion code, an
		// unassigned area code, an N11 exchange.
		{"411-555-0100", "reject 484 Address Incomplete (rule invalid-number)", 1},
		{"911-555-0100", "reject 484 Address Incomplete (rule invalid-number)", 1},
		{"290-555-0100", "reject 484 Address Incomplete (rule invalid-number)", 1},
		{"456-555-0100", "reject 484 Address Incomplete (rule invalid-number)", 1},
		{"202-911-0100", "reject 484 Address Incomplete (rule invalid-number)", 1},
		// Toll-free, Canada and the Caribbean are numbers of the NANP: the rules
		// run (and, with no line type known, take them for mobiles).
		{"800-555-0100", "reject 403 Forbidden (rule mobile-automated-consent)", 1},
		{"416-555-0100", "reject 403 Forbidden (rule mobile-automated-consent)", 1},
		{"876-555-0100", "reject 403 Forbidden (rule mobile-automated-consent)", 1},
		// A whole Request-URI is read as the proxy reads an INVITE's (RFC 3966 §5.1.5, RFC 3261 §19.1.2).
		{"tel:555-0143;phone-context=+1-202", "reject 603 Decline (rule internal-dnc)", 1},
		{"sip:555-0143;phone-context=+1-202@127.0.0.1;user=phone", "reject 603 Decline (rule internal-dnc)", 1},
		{"SIP:%2B12025550143@127.0.0.1;user=phone", "reject 603 Decline (rule internal-dnc)", 1},
		{"tel:+1-202-555-0144;ext=7", "allow (rule default)", 0},
		{"tel:555-0143", "reject 484 Address Incomplete (rule invalid-number)", 1},
	}
	for _, tc := range cases {
		out, code, err := runCheck("--config", cfg, "--to", tc.to, "--at", noonToday())
		if first, _, _ := strings.Cut(out, "\n"); first != tc.firstLine || code != tc.code {
			t.Errorf("--to %s: %q, exit %d (%v); want %q, exit %d", tc.to, out, code, err, tc.firstLine, tc.code)
		}
		if code == 1 && reportable(err) {
			t.Errorf("--to %s: a reject would also print an error: %v", tc.to, err)
		}
	}
	out, _, _ := runCheck("--config", cfg, "--to", "2025550143", "--at", noonToday())
	if !strings.Contains(out, "internal-dnc: match; listed holds (internal version ") {
		t.Errorf("trace missing from %q", out)
	}
	// A stale condition's trace gives the list's age in days, not a "count".
	out, _, _ = runCheck("--config", cfg, "--to", "2025550144", "--at", noonToday())
	if !regexp.MustCompile(`national-registry-stale: no match; stale does not hold \(ftc version \d+ age \d+d\)`).MatchString(out) {
		t.Errorf("the national list's age is not in the trace:\n%s", out)
	}
}

// noonToday is noon at the called party, Eastern time, on the day the test
// runs: the lists imported by checkSetup are fresh then. Sundays move to Monday.
func noonToday() string {
	est := time.FixedZone("EST", -5*3600)
	now := time.Now().In(est)
	noon := time.Date(now.Year(), now.Month(), now.Day(), 12, 0, 0, 0, est)
	if noon.Weekday() == time.Sunday {
		noon = noon.AddDate(0, 0, 1)
	}
	return noon.Format(time.RFC3339)
}

func TestCheckFactsFlagsAndJSON(t *testing.T) {
	before := time.Now()
	cfg := checkSetup(t)
	imported := time.Now()
	noon := noonToday()
	evening := strings.Replace(noon, "T12:00", "T20:30", 1)
	// The national list's age in whole days at a call in 2031 counts from
	// its import, today: one of two numbers if a day's end falls within the import.
	const later = "2031-01-01T12:00:00-05:00"
	at, _ := time.Parse(time.RFC3339, later)
	days := func(from time.Time) string { return strconv.Itoa(int(at.Sub(from) / (24 * time.Hour))) }
	cases := []struct {
		args         []string
		decision     string
		rule         string
		status       float64
		code         int
		traceMatches string // a regular expression
	}{
		{[]string{"--to", "2125550143", "--at", noon}, "allow", "default", 0, 0, ""},
		{[]string{"--to", "3055550143", "--at", evening}, "reject", "state-hours", 480, 1, `"state-hours":\["outside_hours holds: America/New_York"\]`},
		{[]string{"--to", "2125550143", "--at", evening}, "allow", "default", 0, 0, ""},
		{[]string{"--to", "2125550143", "--at", noon, "--from", ""}, "reject", "caller-id", 403, 1, `"caller-id":\["caller_id holds: missing"\]`},
		{[]string{"--to", "3055550100", "--at", noon}, "reject", "national-dnc", 603, 1, `"national-dnc":\["listed holds v\d+: ftc",`},
		{[]string{"--to", "2125550143", "--at", later}, "reject", "national-registry-stale", 503, 1, `"national-registry-stale":\["stale holds v\d+ count (` + days(imported) + `|` + days(before) + `): ftc"\]`},
	}
	for _, tc := range cases {
		out, code, err := runCheck(append([]string{"--config", cfg, "--json"}, tc.args...)...)
		var got map[string]any
		if jerr := json.Unmarshal([]byte(out), &got); jerr != nil {
			t.Fatalf("%v: %q is not JSON: %v (%v)", tc.args, out, jerr, err)
		}
		if got["decision"] != tc.decision || got["rule"] != tc.rule || got["status"] != tc.status || code != tc.code ||
			got["trace"] == nil || got["policy_sha256"] == "" || !regexp.MustCompile(tc.traceMatches).MatchString(out) {
			t.Errorf("%v: %s exit %d; want %s by %s, status %v, exit %d, trace matching %s", tc.args, out, code, tc.decision, tc.rule, tc.status, tc.code, tc.traceMatches)
		}
	}
	if _, code, err := runCheck("--config", cfg, "--to", "2125550143", "--at", "tomorrow"); code != 2 || !strings.Contains(err.Error(), "RFC 3339") {
		t.Errorf("bad --at: exit %d, %v", code, err)
	}
}

func TestCheckErrorsExitTwo(t *testing.T) {
	cfg := checkSetup(t)
	bad := filepath.Join(filepath.Dir(cfg), "policy.yaml")
	if err := os.WriteFile(bad, []byte("rules:\n  - name: x\n    action: deny\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, code, err := runCheck("--config", cfg, "--to", "2025550143")
	if code != 2 || err == nil || !strings.HasSuffix(err.Error(), `policy.yaml:3:13: rule "x": action "deny" is not reject or allow`) {
		t.Errorf("bad policy: exit %d, %v; want exit 2 naming line and column", code, err)
	}
	if _, code, err = runCheck("--config", cfg); code != 2 || !reportable(err) {
		t.Errorf("no --to: exit %d, %v; want exit 2 with a message", code, err)
	}
}

func TestCheckCallFacts(t *testing.T) {
	cfg := &config.Config{DefaultRegion: "US", Dialers: []config.Dialer{{Name: "predictive", Automated: true}}}
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	cfg.Dialers[0].Seller = "acme"
	cfg.Campaigns = []config.Campaign{{ID: "fall", Seller: "globex"}}
	c := checkCall(cfg, checkFlags{to: "202-555-0143", from: "2025550100", campaign: "spring", rn: "2025550000", prerecorded: true}, now)
	if c.Called != "+12025550143" || c.CalledRaw != "202-555-0143" || c.Caller != "+12025550100" || c.Campaign != "spring" ||
		c.Dialer != "predictive" || !c.Automated || !c.Time.Equal(now) || c.RoutingNumber != "+12025550000" ||
		!c.Prerecorded || c.Seller != "acme" {
		t.Errorf("automated call: %+v", c)
	}
	c = checkCall(cfg, checkFlags{to: "55", from: "anonymous", campaign: "fall", manual: true}, now)
	if c.Called != "" || c.CalledErr == "" || c.Caller != "anonymous" || c.Automated || c.Seller != "globex" {
		t.Errorf("manual call, bad number: %+v", c)
	}
	if c = checkCall(cfg, checkFlags{to: "2025550143", campaign: "fall", seller: "initech"}, now); c.Seller != "initech" {
		t.Errorf("--seller: %+v", c)
	}
}

// --to may be a Request-URI: the number it names is read as the proxy reads
// it, and a sip: URI's rn= parameter is the routing number unless --rn says.
func TestCheckReadsARequestURI(t *testing.T) {
	cases := []struct{ to, rn, wantTo, wantRN string }{
		{"sip:+12025550143@127.0.0.1;npdi;rn=+13015550000;user=phone", "", "+12025550143", "+13015550000"},
		{"sip:+12025550143@127.0.0.1;npdi;rn=+13015550000", "2025550000", "+12025550143", "2025550000"},
		{"tel:+1-202-555-0143;npdi;rn=+1-301-555-0000", "", "+1-202-555-0143;npdi;rn=+1-301-555-0000", ""},
		{"sips:555-0199;phone-context=+1-202@127.0.0.1", "", "555-0199;phone-context=+1-202", ""},
		{"555-0199;phone-context=+1-202", "", "555-0199;phone-context=+1-202", ""},
	}
	for _, c := range cases {
		f := checkFlags{to: c.to, rn: c.rn}
		if err := f.readURI(); err != nil || f.to != c.wantTo || f.rn != c.wantRN {
			t.Errorf("--to %s --rn %q: to %q rn %q (%v); want %q, %q", c.to, c.rn, f.to, f.rn, err, c.wantTo, c.wantRN)
		}
	}
	if f := (checkFlags{to: "sip:2025550143@[::1"}); f.readURI() == nil {
		t.Errorf("--to sip:2025550143@[::1 read as %q, want an error", f.to)
	}
}

func TestStatusOnlyExitIsSilent(t *testing.T) {
	if reportable(&exitError{code: 1}) {
		t.Error("a status-only exit would print an empty error")
	}
	if !reportable(errors.New("boom")) || !reportable(&exitError{code: 2, err: errors.New("boom")}) {
		t.Error("an error would go unreported")
	}
}

// A call a monitored rule would reject is forwarded: check says allow, as the
// decision log does, with the rule's would-be answer beside it, and exits 0.
func TestCheckShowsAMonitoredCallAsForwarded(t *testing.T) {
	d := policy.Decision{Action: policy.Reject, Rule: "internal-dnc", Status: 603, Reason: "Decline", Monitor: true, Mode: "enforce"}
	var text, js bytes.Buffer
	printDecision(&text, d)
	if first, _, _ := strings.Cut(text.String(), "\n"); first != "allow (monitor: rule internal-dnc would reject 603 Decline)" {
		t.Errorf("text: %q", first)
	}
	if err := printDecisionJSON(&js, d); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	would, _ := got["would"].(map[string]any)
	if got["decision"] != "allow" || got["monitor"] != true || got["reason"] != nil ||
		would["decision"] != "reject" || would["status"] != 603.0 || would["reason"] != "Decline" {
		t.Errorf("json: %s", js.String())
	}
}

// check says what each condition saw, and only what it saw: no empty
// value before a version, no count where no state rule counted anything,
// and a list dated after the call (an --at in the past) as such.
func TestConditionFacts(t *testing.T) {
	for _, tc := range []struct {
		c    policy.ConditionTrace
		want string
	}{
		{policy.ConditionTrace{Kind: "listed", Version: 1}, "version 1"},
		{policy.ConditionTrace{Kind: "listed", Holds: true, Value: "internal", Versions: []uint64{4, 7}}, "internal versions 4, 7"},
		{policy.ConditionTrace{Kind: "attempts", Value: policy.NoStateRule}, "no state rule"},
		{policy.ConditionTrace{Kind: "attempts", Value: "number"}, "number count 0"},
		{policy.ConditionTrace{Kind: "stale", Value: "ftc", Version: 1, Count: 3}, "ftc version 1 age 3d"},
		{policy.ConditionTrace{Kind: "stale", Value: "ftc", Version: 1, Count: -8}, "ftc version 1 dated 8d after the call"},
		{policy.ConditionTrace{Kind: "consent", Holds: true, Value: "written", Version: 9, Record: "c-12"}, "written version 9 record c-12"},
	} {
		if got := conditionFacts(tc.c); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.c, got, tc.want)
		}
	}
}
