package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// A campaign that abandons its calls is slowed down by the policy, through
// the built binary with media anchored: a SIPp carrier's called person
// greets and, hearing nobody, hangs up 3 s after the greeting; the SIPp
// dialer sends only silence. The call is abandoned (its outcome record
// says so) and counted in the registry; the campaign's next automated call
// gets 503 with Retry-After from the abandonment_rate rule, whose trace
// gives the rate and the period, while a manual call of the campaign and an
// automated call of another campaign go on. The stopped gatekeeper's data
// dir holds the count, and the audit log's outcome records give the same.
func TestAbandonmentRateSlowsTheCampaign(t *testing.T) {
	g := anchoredGatekeeper(t, 43400, "")
	writeFile(t, filepath.Join(g.dir, "policy.yaml"), `rules:
  - name: abandonment-rate
    match:
      dial_mode: automated
      abandonment_rate: {at_least: 50%, min_calls: 1}
    action: reject
    status: 503
    retry_after: 300
`)
	g.start()

	dir := t.TempDir()
	greeting := fixture(t, "greeting-whos")
	greetingEnd := greetingLead + greeting.duration()
	greets, quiet := filepath.Join(dir, "greeting.pcmu"), filepath.Join(dir, "silence.pcmu")
	writePCMU(t, greets, silence(greetingLead), greeting, silence(10*time.Second))
	writePCMU(t, quiet, silence(10*time.Second))
	hangUp := greetingEnd + 3*time.Second
	carrier := g.carrier(playing(t, "uas_play.xml", greets), 1, "-set", "hangup", "yes", "-d", fmt.Sprint(hangUp.Milliseconds()))
	g.dial(dialerIP, playing(t, "uac_play.xml", quiet), cleanNumber, "-set", "campaign", "spring").mustPass()
	carrier.mustPass()

	var verdict string
	waitFor(t, "the call's outcome record", func() bool {
		for _, o := range g.auditLog("outcome") {
			if m, ok := o["media"].(map[string]any); ok {
				verdict, _ = m["verdict"].(string)
			}
		}
		return verdict != ""
	})
	if verdict != "abandoned" {
		t.Fatalf("verdict %q, want abandoned: the dialer sent only silence\n%s", verdict, g.log.String())
	}

	invite := func(callID, campaign, mode string) string {
		return g.sendRaw(dialerIP, "INVITE sip:"+cleanNumber+"@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bK"+callID+
			"\nMax-Forwards: 70\nFrom: <sip:2025550100@127.0.0.2>;tag=1\nTo: <sip:"+cleanNumber+"@127.0.0.1>\nCall-ID: "+callID+
			"\nCSeq: 1 INVITE\nX-Campaign-ID: "+campaign+"\nX-Dial-Mode: "+mode+"\nContent-Length: 0\n\n")
	}
	if res := invite("ar1", "spring", "automated"); !strings.HasPrefix(res, "SIP/2.0 503 ") || !strings.Contains(res, "\r\nRetry-After: 300\r\n") ||
		!strings.Contains(res, `text="abandonment-rate"`) {
		t.Errorf("the campaign's next automated call got\n%s\nwant 503 with Retry-After: 300 from abandonment-rate", res)
	}
	// These go on to the carrier, which no longer answers: the rule did not refuse them.
	for _, c := range [][2]string{{"spring", "manual"}, {"fall", "automated"}} {
		if res := invite("ar-"+c[0]+"-"+c[1], c[0], c[1]); strings.Contains(res, "abandonment-rate") {
			t.Errorf("a %s call of campaign %s was refused by the rule:\n%s", c[1], c[0], res)
		}
	}
	var trace string
	waitFor(t, "the refused call's decision", func() bool {
		for _, d := range g.auditLog("decision") {
			if d["call_id"] == "ar1" {
				b, _ := json.Marshal(d["trace"])
				trace = string(b)
			}
		}
		return trace != ""
	})
	if !regexp.MustCompile(`"abandonment-rate":\[.*"abandonment_rate holds count 1: 100\.00% \(1 of 1\) in 20\d\d-\d\d-\d\dT[0-9:]+Z/20\d\d-\d\d-\d\dT[0-9:]+Z"`).MatchString(trace) {
		t.Errorf("the refused call's trace does not give the rate and the period: %s", trace)
	}

	g.stop()
	out, err := g.run("abandonment", "--campaign", "spring", "--json")
	var periods []registry.AbandonmentPeriod
	if err != nil || json.Unmarshal([]byte(out), &periods) != nil || len(periods) != 1 || periods[0].LiveAnswered != 1 || periods[0].Abandoned != 1 {
		t.Errorf("abandonment --campaign spring on the stopped data dir: %v\n%s", err, out)
	}
	if out, err := g.run("abandonment", "--check"); err != nil {
		t.Errorf("abandonment --check: the registry's counts differ from the audit log's outcome records: %v\n%s", err, out)
	}
}

// The dialer says its agent is on with an INFO carrying X-Agent-Connected
// (its agent_signal), as its agent starts to speak 0.8 s after the called
// person's greeting: the carrier gets the INFO with the header, and the
// call's outcome record has the answer, the signal after it, the agent's
// speech and the verdict connected.
func TestAgentSignalReachesTheOutcomeRecord(t *testing.T) {
	g := anchoredGatekeeper(t, 43500, "")
	g.dialerExtra = "    agent_signal: {header: X-Agent-Connected}\n"
	g.writeConfig()
	g.start()

	dir := t.TempDir()
	greeting := fixture(t, "greeting-whos")
	greetingEnd := greetingLead + greeting.duration()
	greets, agent := filepath.Join(dir, "greeting.pcmu"), filepath.Join(dir, "agent.pcmu")
	writePCMU(t, greets, silence(greetingLead), greeting, silence(10*time.Second))
	writePCMU(t, agent, silence(greetingEnd+shortGap), fixture(t, "agent-john"))
	carrier := g.carrier(playing(t, "uas_play.xml", greets), 1)
	g.dial(dialerIP, playing(t, "uac_play.xml", agent), cleanNumber, "-set", "agent", "yes", "-d", fmt.Sprint((greetingEnd + shortGap).Milliseconds())).mustPass()
	carrier.mustPass()
	if info := received(carrier.messages(), "INFO "); !strings.Contains(info, "X-Agent-Connected: yes") {
		t.Errorf("the carrier got the dialer's INFO as\n%s", info)
	}

	var o map[string]any
	waitFor(t, "the call's outcome record", func() bool {
		if outcomes := g.auditLog("outcome"); len(outcomes) == 1 {
			o = outcomes[0]
		}
		return o != nil
	})
	m, _ := o["media"].(map[string]any)
	at := func(v any) time.Time {
		s, _ := v.(string)
		t, _ := time.Parse(time.RFC3339Nano, s)
		return t
	}
	answered, signal, ended := at(o["answered"]), at(m["agent_signal"]), at(o["time"]) // the record's time is when the call ended
	if m["verdict"] != "connected" || answered.IsZero() || signal.Before(answered.Add(greetingEnd)) || signal.After(ended) || m["agent_speech"] == nil {
		t.Errorf("outcome %v; want the verdict connected, agent speech, and the signal after the greeting (%v after the answer) and before the end", o, greetingEnd)
	}
}
