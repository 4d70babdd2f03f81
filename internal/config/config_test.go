package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/configs"
)

func TestShippedConfigLoads(t *testing.T) {
	data, err := configs.Files.ReadFile("gatekeeper.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("gatekeeper.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SIP.Carrier != "sip:127.0.0.1:5070" || len(cfg.Dialers) != 1 || !cfg.Dialers[0].Automated ||
		cfg.SIP.CampaignHeader != "X-Campaign-ID" || cfg.SIP.DialModeHeader != "X-Dial-Mode" ||
		time.Duration(cfg.SIP.DrainTimeout) != 32*time.Second || cfg.DefaultRegion != "US" {
		t.Fatalf("unexpected config: %+v", cfg)
	}
	if !cfg.Dialers[0].Sources[0].Contains(mustAddr(t, "127.0.0.9")) {
		t.Fatal("127.0.0.0/8 does not hold 127.0.0.9")
	}
}

func TestPathsAreRelativeToTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gk.yaml")
	os.WriteFile(path, []byte("sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [10.1.2.3]\ndata_dir: data\npolicy: p.yaml\n"), 0o644)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path(cfg.DataDir) != filepath.Join(dir, "data") || cfg.Path(cfg.Policy) != filepath.Join(dir, "p.yaml") ||
		cfg.AdminSocket() != filepath.Join(dir, "data", "admin.sock") {
		t.Fatalf("paths: %s %s %s", cfg.Path(cfg.DataDir), cfg.Path(cfg.Policy), cfg.AdminSocket())
	}
	if got := cfg.Dialers[0].Sources[0].String(); got != "10.1.2.3/32" {
		t.Fatalf("single address became %s", got)
	}
}

func TestBadConfigsNameThePlace(t *testing.T) {
	base := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [127.0.0.0/8]\npolicy: p.yaml\n"
	cases := map[string]string{
		base + "bogus: 1\n": "gk.yaml:8:1: unknown field \"bogus\"",
		strings.Replace(base, "127.0.0.0/8", "127.0.0/33", 1):                                                   "gk.yaml:6:15: \"127.0.0/33\" is not a network (CIDR)",
		strings.Replace(base, "udp://", "sctp://", 1):                                                           "sip.listen: \"sctp://127.0.0.1:5060\" is not udp://IP:PORT or tcp://IP:PORT",
		strings.Replace(base, "  carrier:", "  drain_timeout: soon\n  carrier:", 1):                             "gk.yaml:3:18: \"soon\" is not a duration",
		base + "campaigns:\n  - id: a\n    seller: x\n  - id: a\n":                                              "campaigns[1]: id \"a\" is used twice",
		strings.Replace(base, "policy: p.yaml\n", "", 1):                                                        "policy: the policy file is missing",
		strings.Replace(base, "  - name: d\n    sources: [127.0.0.0/8]\n", "  - name: d\n    sources: []\n", 1): "sources is empty",
	}
	for src, want := range cases {
		_, err := Parse("gk.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to contain %q", err, want)
		}
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
