package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/config"
	"github.com/gatekeeper-sip/gatekeeper/configs"
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
	files := map[string][]byte{"gatekeeper.yaml": []byte(cfgText), "policy.yaml": policyText, "optouts.txt": []byte("2025550143\n")}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	store, err := registry.Open(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	req := registry.ImportRequest{List: "internal", Files: []string{filepath.Join(dir, "optouts.txt")}}
	if _, err := store.Import(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "gatekeeper.yaml")
}

func runCheck(args ...string) (out string, code int, err error) {
	cmd := newCheckCmd()
	var buf bytes.Buffer
	cmd.SetOut(&buf)
	cmd.SetArgs(args)
	if err = cmd.Execute(); err != nil {
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
	}
	for _, tc := range cases {
		out, code, err := runCheck("--config", cfg, "--to", tc.to)
		if first, _, _ := strings.Cut(out, "\n"); first != tc.firstLine || code != tc.code {
			t.Errorf("--to %s: %q, exit %d (%v); want %q, exit %d", tc.to, out, code, err, tc.firstLine, tc.code)
		}
		if code == 1 && reportable(err) {
			t.Errorf("--to %s: a reject would also print an error: %v", tc.to, err)
		}
	}
	out, _, _ := runCheck("--config", cfg, "--to", "2025550143")
	if !strings.Contains(out, "internal-dnc: match; listed holds (internal)") {
		t.Errorf("trace missing from %q", out)
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
	c := checkCall(cfg, "202-555-0143", "2025550100", "spring", false, now)
	if c.Called != "+12025550143" || c.CalledRaw != "202-555-0143" || c.Caller != "+12025550100" || c.Campaign != "spring" ||
		c.Dialer != "predictive" || !c.Automated || !c.Time.Equal(now) {
		t.Errorf("automated call: %+v", c)
	}
	c = checkCall(cfg, "55", "anonymous", "", true, now)
	if c.Called != "" || c.CalledErr == "" || c.Caller != "anonymous" || c.Automated {
		t.Errorf("manual call, bad number: %+v", c)
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
