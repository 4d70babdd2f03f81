package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// A called person asks not to be called again: the opt-out goes through the
// running server and the very next call to the number is rejected; a full
// import of the list made meanwhile does not undo it; removing it lets the
// next call through. The record keeps who, when, how and why.
func TestOptOutThroughTheServerChangesTheNextCall(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	carrier := g.carrier("uas.xml", 2)
	g.dial(dialerIP, "uac.xml", listedNumber).mustPass()

	// A misspelled list is refused by the server, against the policy in force.
	if out, err := g.run("dnc", "add", "--list", "interal", listedNumber); err == nil || !strings.Contains(out, `list "interal" is not declared under lists:`) || !strings.Contains(out, "(declared: internal)") {
		t.Fatalf("dnc add to a misspelled list: %v\n%s", err, out)
	}
	out, err := g.run("dnc", "add", "--list", "internal", "--reason", "asked on the call", listedNumber)
	if err != nil || !strings.HasPrefix(out, "+1"+listedNumber+"  internal: listed (add by ") {
		t.Fatalf("dnc add: %v\n%s", err, out)
	}
	g.dial(dialerIP, "uac_reject.xml", listedNumber, "-set", "expect", "603").mustPass()

	// The nightly export of the company list does not know of the opt-out yet.
	g.importList("internal", "9725550100")
	g.dial(dialerIP, "uac_reject.xml", listedNumber, "-set", "expect", "603").mustPass()

	if out, err := g.run("dnc", "remove", "--list", "internal", "--reason", "gave written consent", listedNumber); err != nil || !strings.Contains(out, "internal: unlisted (remove by ") {
		t.Fatalf("dnc remove: %v\n%s", err, out)
	}
	g.dial(dialerIP, "uac.xml", listedNumber).mustPass()
	carrier.mustPass()

	out, err = g.run("lookup", "--json", listedNumber)
	var got struct {
		Lists   []string `json:"lists"`
		History []struct {
			Action, By, Via, Reason string
		} `json:"history"`
	}
	if err != nil || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("lookup: %v\n%s", err, out)
	}
	if len(got.Lists) != 0 || len(got.History) != 2 || got.History[0].Action != "add" || got.History[0].Reason != "asked on the call" ||
		got.History[1].Reason != "gave written consent" || got.History[0].By == "" || !strings.HasPrefix(got.History[0].Via, "cli through the admin socket (uid ") {
		t.Errorf("lookup after the opt-out and its removal: %s", out)
	}

	g.stop()
	var decisions []string
	for _, r := range g.auditRecords() {
		decisions = append(decisions, r["decision"].(string)+" "+r["rule"].(string))
	}
	if want := "allow default|reject internal-dnc|reject internal-dnc|allow default"; strings.Join(decisions, "|") != want {
		t.Errorf("decisions %q; want %q", decisions, want)
	}
}
