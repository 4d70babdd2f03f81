package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAgentSignal(t *testing.T) {
	base := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [127.0.0.0/8]\npolicy: p.yaml\n"
	dialer := "    sources: [127.0.0.0/8]\n"
	with := func(signal string) string {
		return strings.Replace(base, dialer, dialer+"    agent_signal: "+signal+"\n", 1)
	}
	cfg, err := Parse("gk.yaml", []byte(with("{header: X-Agent-Connected}")))
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Dialers[0].AgentSignal; s == nil || s.Header != "X-Agent-Connected" {
		t.Errorf("header signal: %+v", s)
	}
	if cfg, err = Parse("gk.yaml", []byte(with("{content_type: application/x-agent-state, body: connected}"))); err != nil {
		t.Fatal(err)
	}
	if s := cfg.Dialers[0].AgentSignal; s == nil || s.ContentType != "application/x-agent-state" || s.Body != "connected" {
		t.Errorf("INFO signal: %+v", s)
	}
	for signal, want := range map[string]string{
		"{header: X-A, content_type: a/b}": "gk.yaml:7:19: dialers[0] (d): agent_signal: give header or content_type, not both",
		"{body: connected}":                "gk.yaml:7:19: dialers[0] (d): agent_signal: give header (e.g. X-Agent-Connected) or content_type (an INFO's)",
		"{header: X-A, body: yes}":         "gk.yaml:7:39: dialers[0] (d): agent_signal: body goes with content_type (an INFO's), not with header",
		`{header: "X Agent"}`:              `gk.yaml:7:28: dialers[0] (d): agent_signal: header "X Agent" is not a SIP header name`,
		"{content_type: agent}":            `gk.yaml:7:34: dialers[0] (d): agent_signal: content_type "agent" is not a media type such as application/x-agent-state`,
		"{header: X-A, colour: red}":       "gk.yaml:7:",
	} {
		if _, err := Parse("gk.yaml", []byte(with(signal))); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v; want %q", signal, err, want)
		}
	}
}

// A campaign's safe-harbor message is a file next to the config; a missing
// one is named at its key, and so is one the caller finds wrong (ErrorAt).
func TestSafeHarborMessageFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gk.yaml")
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("rules: []\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "acme.wav"), []byte("RIFF"), 0o644)
	base := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [127.0.0.0/8]\npolicy: p.yaml\ncampaigns:\n  - id: spring\n    safe_harbor: "
	os.WriteFile(path, []byte(base+"acme.wav\n"), 0o644)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Path(cfg.Campaigns[0].SafeHarbor); got != filepath.Join(dir, "acme.wav") {
		t.Errorf("the message is at %s", got)
	}
	if err := cfg.ErrorAt("$.campaigns[0].safe_harbor", "not a WAV file"); err == nil || err.Error() != path+":10:18: not a WAV file" {
		t.Errorf("ErrorAt: %v", err)
	}
	os.WriteFile(path, []byte(base+"nowhere.wav\n"), 0o644)
	if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), path+":10:18: campaigns[0] (spring): safe_harbor: stat "+filepath.Join(dir, "nowhere.wav")+": no such file") {
		t.Errorf("a missing message: %v", err)
	}
}
