package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// mediaCall is one call of TestAbandonedCallsAreMeasuredFromTheMedia: what
// the dialer plays and the verdict its outcome record must give.
type mediaCall struct {
	name    string
	audio   []clip
	verdict string
}

// A campaign's answered calls with real audio both ways, through the built
// binary with media anchored: a SIPp carrier answers and the called person
// says "Hi, who's calling?"; a SIPp dialer then plays
//
//	(a) an agent 0.8 s after the greeting: connected, with the greeting's end and the gap;
//	(b) an agent 3.5 s after it: abandoned;
//	(c) hold music and office noise, never an agent: abandoned, not connected;
//	(d) the campaign's registered safe-harbor message: abandoned_safe_harbor;
//	(e) an agent 3.5 s after it, but the called person hangs up 1 s after
//	    their greeting: abandoned.
//
// Each outcome record carries the verdict, and `gatekeeper abandonment`
// counts 5 live-answered calls of the campaign, 4 abandoned, 1 with the
// safe-harbor message, as the outcome records do (--check).
func TestAbandonedCallsAreMeasuredFromTheMedia(t *testing.T) {
	g := anchoredGatekeeper(t, 43100, fmt.Sprintf("campaigns:\n  - id: spring-sale\n    safe_harbor: %s\n",
		filepath.Join(repoRoot, "media", "testdata", "safeharbor-acme.wav")))
	g.start()

	dir := t.TempDir()
	greeting, greetingEnd := answering(t)
	greets := filepath.Join(dir, "greeting.pcmu")
	writePCMU(t, greets, greeting)
	agent := fixture(t, "agent-john")

	calls := []mediaCall{
		{"agent-after-0.8s", []clip{silence(greetingEnd + shortGap), agent}, "connected"},
		{"agent-after-3.5s", []clip{silence(greetingEnd + longGap), agent}, "abandoned"},
		{"music-and-noise", []clip{fixture(t, "music-melody"), fixture(t, "noise-pink-40")}, "abandoned"},
		{"safe-harbor", []clip{silence(greetingEnd + shortGap), fixture(t, "safeharbor-acme")}, "abandoned_safe_harbor"},
	}
	// (a)-(d) at once: one carrier answers them all the same way.
	carrier := g.carrier(playing(t, "uas_play.xml", greets), len(calls))
	dialers := make([]*sipp, len(calls))
	for i, c := range calls {
		audio := filepath.Join(dir, c.name+".pcmu")
		writePCMU(t, audio, c.audio...)
		dialers[i] = g.startDial(dialerIP, playing(t, "uac_play.xml", audio), cleanNumber, "-set", "campaign", "spring-sale")
	}
	for _, d := range dialers {
		d.mustPass()
	}
	carrier.mustPass()
	// (e): the carrier hangs up 1 s after the greeting's end.
	carrier = g.carrier(playing(t, "uas_play.xml", greets), 1, "-set", "hangup", "yes", "-d", fmt.Sprint((greetingEnd + time.Second).Milliseconds()))
	hungUp := g.dial(dialerIP, playing(t, "uac_play.xml", filepath.Join(dir, calls[1].name+".pcmu")), cleanNumber, "-set", "campaign", "spring-sale")
	hungUp.mustPass()
	carrier.mustPass()
	dialers = append(dialers, hungUp)
	calls = append(calls, mediaCall{"callee-hangs-up", nil, "abandoned"})

	byCallID := map[string]audit.Outcome{}
	waitFor(t, "5 outcome records", func() bool {
		for _, o := range g.outcomes() {
			byCallID[o.CallID] = o
		}
		return len(byCallID) == len(calls)
	})
	for i, c := range calls {
		o := byCallID[headerOf(dialers[i].messages(), "INVITE ", "Call-ID:")]
		m := o.Media
		if m == nil || m.Verdict != c.verdict {
			t.Errorf("%s: the outcome record says %+v, media %+v; want the verdict %s", c.name, o, m, c.verdict)
			continue
		}
		t.Logf("%s: %s, greeting %v-%v after the answer, agent %v, gap %s", c.name, m.Verdict, since(o, m.GreetingStart), since(o, m.GreetingEnd), since(o, m.AgentSpeech), gapOf(m))
		greetingAt := checkGreeting(t, c.name, o, greetingEnd)
		switch c.name {
		case "agent-after-0.8s":
			checkGap(t, c.name, m, shortGap)
			if m.AgentSpeech.Sub(greetingAt) != time.Duration(*m.GapMS)*time.Millisecond {
				t.Errorf("%s: the gap %d ms is not from the greeting's end (%v) to the agent (%v)", c.name, *m.GapMS, greetingAt, m.AgentSpeech)
			}
		case "agent-after-3.5s":
			checkGap(t, c.name, m, longGap)
		case "music-and-noise":
			if !m.AgentSpeech.IsZero() {
				t.Errorf("%s: music and noise were taken for an agent at %v", c.name, m.AgentSpeech)
			}
		case "callee-hangs-up":
			// Abandoned though only about 1 s passed: the called person hung up first.
			if o.EndedBy != "carrier" || !m.AgentSpeech.IsZero() {
				t.Errorf("%s: ended by %s, agent speech at %v; want the carrier's hang-up before any agent", c.name, o.EndedBy, m.AgentSpeech)
			}
			checkGap(t, c.name, m, time.Second)
		}
	}

	out, err := g.run("abandonment", "--campaign", "spring-sale", "--json")
	t.Logf("gatekeeper abandonment --campaign spring-sale --json:\n%s", out)
	var periods []struct {
		registry.AbandonmentPeriod
		Rate float64 `json:"rate"`
	}
	if err != nil || json.Unmarshal([]byte(out), &periods) != nil {
		t.Fatalf("abandonment: %v\n%s", err, out)
	}
	if len(periods) != 1 || periods[0].Campaign != "spring-sale" || periods[0].LiveAnswered != 5 || periods[0].Abandoned != 4 || periods[0].SafeHarbor != 1 || periods[0].Rate != 0.8 {
		t.Errorf("the campaign's one period: %+v; want 5 live-answered calls, 4 abandoned (rate 0.8), 1 safe-harbor play", periods)
	}
	if out, err := g.run("abandonment", "--campaign", "spring-sale"); err != nil || !regexp.MustCompile(`(?m)^spring-sale +1 .* 5 +4 +80\.00% +1$`).MatchString(out) {
		t.Errorf("abandonment: %v\n%s", err, out)
	}
	// The registry's counts are those of the outcome records.
	g.stop()
	if out, err := g.run("abandonment", "--check"); err != nil {
		t.Errorf("abandonment --check: %v\n%s", err, out)
	}
}

// outcomes reads every outcome record logged so far.
func (g *gatekeeper) outcomes() []audit.Outcome {
	g.t.Helper()
	var out []audit.Outcome
	for _, r := range g.auditLog("outcome") {
		data, _ := json.Marshal(r)
		var o audit.Outcome
		if err := json.Unmarshal(data, &o); err != nil {
			g.t.Fatalf("an outcome record: %v: %s", err, data)
		}
		out = append(out, o)
	}
	return out
}

// since is how long after the call's answer t was; 0 when t is not known.
func since(o audit.Outcome, t audit.Time) time.Duration {
	if o.Answered == nil || t.IsZero() {
		return 0
	}
	return t.Sub(o.Answered.Time)
}

// gapOf is the evidence's gap, "none" when it has none.
func gapOf(m *audit.MediaEvidence) string {
	if m.GapMS == nil {
		return "none"
	}
	return fmt.Sprint(time.Duration(*m.GapMS) * time.Millisecond)
}

// checkGreeting checks that the outcome record of call name puts the end of
// the called person's greeting about want after the answer, and returns it.
// The carrier plays it that long after its answer; on a loaded machine its
// RTP may come late, never early.
func checkGreeting(t *testing.T, name string, o audit.Outcome, want time.Duration) time.Time {
	t.Helper()
	m := o.Media
	if o.Answered == nil || m.GreetingStart.IsZero() || m.GreetingEnd.IsZero() {
		t.Errorf("%s: no answer or greeting: %+v %+v", name, o, *m)
		return time.Time{}
	}
	if d := since(o, m.GreetingEnd); d < want-200*time.Millisecond || d > want+time.Second {
		t.Errorf("%s: the greeting ended %v after the answer, want about %v", name, d, want)
	}
	return m.GreetingEnd.Time
}

// checkGap checks that the evidence's gap is about want: within 0.5 s
// below and 0.7 s above, as the two sides' RTP may drift apart on a loaded
// machine, and on the same side of the rule's 2 s.
func checkGap(t *testing.T, name string, m *audit.MediaEvidence, want time.Duration) {
	t.Helper()
	if m.GapMS == nil {
		t.Errorf("%s: no gap: %+v", name, *m)
		return
	}
	if gap := time.Duration(*m.GapMS) * time.Millisecond; gap < want-500*time.Millisecond || gap > want+700*time.Millisecond {
		t.Errorf("%s: the gap is %v, want about %v", name, gap, want)
	}
}

// A campaign's safe-harbor message that is not an 8 kHz mono WAV file stops
// serve at its start, named at its key, before anything is written.
func TestSafeHarborMessageThatIsNoWAVStopsServe(t *testing.T) {
	g := anchoredGatekeeper(t, 43200, "campaigns:\n  - id: spring-sale\n    safe_harbor: policy.yaml\n")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "serve", "--config", g.config).CombinedOutput()
	want := regexp.MustCompile(regexp.QuoteMeta(g.config) + `:\d+:\d+: campaigns\[0\] \(spring-sale\): safe_harbor: .*policy\.yaml: not a WAV file`)
	if err == nil || !want.Match(out) {
		t.Errorf("serve: %v\n%s\nwant %s", err, out, want)
	}
	if entries, _ := os.ReadDir(filepath.Join(g.dir, "audit")); len(entries) != 0 {
		t.Errorf("serve wrote %d files into the audit folder before it stopped", len(entries))
	}
}
