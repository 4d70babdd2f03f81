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
	if !regexp.MustCompile(`"kind":"abandonment_rate".*"value":"100\.00% \(1 of 1\) in 20\d\d-\d\d-\d\dT[0-9:]+Z/20\d\d-\d\d-\d\dT[0-9:]+Z"`).MatchString(trace) {
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
