package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/media"
	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/sip"
)

// An anchored call's outcome record carries its media evidence: the
// verdict, the greeting, the first agent audio, the gap in milliseconds,
// the dialer's signal and the disagreement; a call not anchored has none.
func TestOutcomeRecordMediaEvidence(t *testing.T) {
	answered := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	e := sip.CallEnd{Call: policy.Call{CallID: "c1", Campaign: "spring", Time: answered.Add(-5 * time.Second)}, Status: 200,
		Answered: answered, Ended: answered.Add(30 * time.Second), EndedBy: sip.EndedByCarrier}
	plain, err := json.Marshal(outcomeOf(e))
	if err != nil || strings.Contains(string(plain), `"media"`) {
		t.Errorf("a call not anchored: %s, %v", plain, err)
	}
	e.Media = &media.Verdict{Outcome: media.Abandoned, Answered: answered, GreetingStart: answered.Add(400 * time.Millisecond),
		GreetingEnd: answered.Add(1300 * time.Millisecond), AgentSpeech: answered.Add(3650 * time.Millisecond), Gap: 2350 * time.Millisecond,
		AgentSignal: answered.Add(time.Second), Disagreement: "signalled before any agent speech"}
	got, err := json.Marshal(outcomeOf(e))
	want := `"media":{"verdict":"abandoned","greeting_start":"2026-03-02T15:00:00.400000000Z","greeting_end":"2026-03-02T15:00:01.300000000Z",` +
		`"agent_speech":"2026-03-02T15:00:03.650000000Z","gap_ms":2350,"agent_signal":"2026-03-02T15:00:01.000000000Z","disagreement":"signalled before any agent speech"}`
	if err != nil || !strings.Contains(string(got), want) {
		t.Errorf("an abandoned call:\n%s\nwant it to hold\n%s", got, want)
	}
	e.Media = &media.Verdict{Outcome: media.NotLive, Answered: answered}
	if got, _ := json.Marshal(outcomeOf(e)); !strings.Contains(string(got), `"media":{"verdict":"not_live"}`) {
		t.Errorf("a call without a greeting: %s", got)
	}
}
