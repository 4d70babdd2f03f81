package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/internal/admin"
	"github.com/gatekeeper-sip/gatekeeper/media"
	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/registry"
	"github.com/gatekeeper-sip/gatekeeper/sip"
)

// abandonment reads the counts of a stopped gatekeeper's data dir, and of a
// running one's through its admin socket; serve's call ends fill them.
func TestAbandonmentCommand(t *testing.T) {
	dir, cfg, socket := registryTestDir(t, map[string]string{})
	out, err := runCmd(t, newAbandonmentCmd(), "--config", cfg)
	if err != nil || out != "no live-answered calls counted in "+filepath.Join(dir, "data")+" (only calls whose media is anchored are counted)\n" {
		t.Fatalf("an empty registry: %v\n%q", err, out)
	}

	// Call ends as the proxy reports them, counted as serve counts them.
	store, err := registry.Open(registry.DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	auditDir := filepath.Join(dir, "audit")
	decisions, err := audit.Open(auditDir, audit.Options{Logger: quiet, Retain: -1})
	if err != nil {
		t.Fatal(err)
	}
	g := &gatekeeper{store: store, decisions: decisions, log: quiet}
	start := time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)
	calls := 0
	end := func(campaign string, answered time.Time, v *media.Verdict) {
		calls++
		c := policy.Call{CallID: fmt.Sprintf("c%d", calls), Called: "+12025550143", Campaign: campaign, Time: answered.Add(-5 * time.Second)}
		decisions.Append(auditRecord(c, policy.Decision{Action: policy.Allow, Rule: "default"}, 200))
		g.callEnded(sip.CallEnd{Call: c, Status: 200, Answered: answered, Ended: answered.Add(time.Minute), Media: v})
	}
	end("", start, &media.Verdict{Outcome: media.Connected}) // calls come in time order, as the audit log's join expects
	for i := range 40 {
		outcome := media.Connected
		switch i {
		case 0:
			outcome = media.AbandonedSafeHarbor
		case 1:
			outcome = media.Abandoned
		}
		end("spring", start.Add(time.Duration(i)*time.Hour), &media.Verdict{Outcome: outcome})
	}
	end("spring", start.Add(2*time.Hour), &media.Verdict{Outcome: media.NotLive}) // a machine or nobody: not live-answered
	end("spring", start.Add(2*time.Hour), nil)                                    // not anchored: not counted
	end("spring", start.Add(31*24*time.Hour), &media.Verdict{Outcome: media.Abandoned})
	if err := decisions.Close(); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	// A stopped gatekeeper: the command opens its data dir.
	out, err = runCmd(t, newAbandonmentCmd(), "--config", cfg)
	for _, want := range []string{
		`(?m)^CAMPAIGN +PERIOD +START +END +LIVE-ANSWERED +ABANDONED +RATE +SAFE-HARBOR PLAYS$`,
		`(?m)^- +1 +2026-03-01T14:00:00Z +2026-03-31T14:00:00Z +1 +0 +0\.00% +0$`,
		`(?m)^spring +1 +2026-03-01T14:00:00Z +2026-03-31T14:00:00Z +40 +2 +5\.00% +1$`,
		`(?m)^spring +2 +2026-03-31T14:00:00Z +2026-04-30T14:00:00Z +1 +1 +100\.00% +0$`,
	} {
		if err != nil || !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("abandonment: %v, want %s in\n%s", err, want, out)
		}
	}
	out, err = runCmd(t, newAbandonmentCmd(), "--config", cfg, "--campaign", "spring", "--json")
	var rows []abandonmentRow
	if err != nil || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 2 || rows[0].LiveAnswered != 40 || rows[0].Abandoned != 2 ||
		rows[0].SafeHarbor != 1 || rows[0].Rate != 0.05 || rows[1].Index != 1 || !strings.Contains(out, `"rate": 0.05`) {
		t.Errorf("--campaign spring --json: %v\n%s", err, out)
	}

	// The audit log's outcome records give the same counts; a call counted
	// in the registry alone makes the check fail, naming its period.
	out, err = runCmd(t, newAbandonmentCmd(), "--config", cfg, "--check", "--audit", auditDir)
	if err != nil || !regexp.MustCompile(`(?m)^spring +1 +2026-03-01T14:00:00Z +2026-03-31T14:00:00Z +40 +2 +5\.00% +1$`).MatchString(out) {
		t.Errorf("abandonment --check: %v\n%s", err, out)
	}
	if store, err = registry.Open(registry.DefaultOptions(filepath.Join(dir, "data"))); err != nil {
		t.Fatal(err)
	}
	if err := store.CountAnsweredCall(registry.AnsweredCall{Campaign: "spring", Answered: start.Add(32 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	store.Close()
	_, err = runCmd(t, newAbandonmentCmd(), "--config", cfg, "--check", "--audit", auditDir)
	if want := `campaign "spring" period 2: the registry has 2 live-answered, 1 abandoned, 0 safe-harbor from 2026-03-31T14:00:00Z, ` +
		`the audit log 1 live-answered, 1 abandoned, 0 safe-harbor from 2026-03-31T14:00:00Z`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a call the audit log does not hold: %v; want %q", err, want)
	}

	// A running gatekeeper holds the directory: the command asks its socket.
	if store, err = registry.Open(registry.DefaultOptions(filepath.Join(dir, "data"))); err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stop := serveAdmin(t, socket, store)
	out, err = runCmd(t, newAbandonmentCmd(), "--config", cfg, "--campaign", "")
	if err != nil || !regexp.MustCompile(`(?m)^- +1 +2026-03-01T14:00:00Z .* 1 +0 +0\.00% +0$`).MatchString(out) || strings.Contains(out, "spring") {
		t.Errorf("--campaign \"\" through the socket: %v\n%s", err, out)
	}
	p, err := admin.NewClient(socket).Abandonment("spring", start.Add(24*time.Hour))
	if err != nil || p.LiveAnswered != 40 || p.Index != 0 {
		t.Errorf("the policy's question through the socket: %+v, %v", p, err)
	}
	stop()
}
