package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Every forwarded call gets one outcome record after its decision, linked
// by Call-ID: how it ended, by whom, when, and the call-detail fields of
// 16 CFR 310.5(a)(2). A rejected call has none.
func TestEveryForwardedCallHasAnOutcome(t *testing.T) {
	g := newGatekeeper(t)
	g.importList("internal", listedNumber)
	g.start()

	carrier := g.carrier("uas.xml", 1)
	g.dial(dialerIP, "uac.xml", cleanNumber, "-d", "600", "-set", "campaign", "spring-sale").mustPass()
	carrier.mustPass()
	carrier = g.carrier("uas_bye.xml", 1)
	g.dial(dialerIP, "uac_recv_bye.xml", cleanNumber).mustPass()
	carrier.mustPass()
	carrier = g.carrier("uas_ring.xml", 1)
	g.dial(dialerIP, "uac_cancel.xml", cleanNumber).mustPass()
	carrier.mustPass()
	carrier = g.carrier("uas_reject.xml", 1)
	g.dial(dialerIP, "uac_reject.xml", cleanNumber, "-set", "expect", "486").mustPass()
	carrier.mustPass()
	g.dial(dialerIP, "uac_reject.xml", listedNumber, "-set", "expect", "603").mustPass()
	g.stop()

	decisions, outcomes := g.auditLog("decision"), g.auditLog("outcome")
	if len(decisions) != 5 || len(outcomes) != 4 {
		t.Fatalf("%d decisions and %d outcomes, want 5 and 4:\n%v\n%v", len(decisions), len(outcomes), decisions, outcomes)
	}
	want := []struct {
		status               float64
		endedBy, disposition string
		answered             bool
	}{{200, "dialer", "answered", true}, {200, "carrier", "answered", true}, {487, "cancel", "cancelled", false}, {486, "carrier", "busy", false}}
	for i, w := range want {
		d, o := decisions[i], outcomes[i]
		if o["call_id"] != d["call_id"] || o["seq"].(float64) <= d["seq"].(float64) {
			t.Errorf("outcome %d does not follow its decision: %v after %v", i, o, d)
		}
		if o["status"] != w.status || o["ended_by"] != w.endedBy || o["disposition"] != w.disposition || (o["answered"] != nil) != w.answered {
			t.Errorf("outcome %d: %v; want status %v, ended_by %s, %s, answered %v", i, o, w.status, w.endedBy, w.disposition, w.answered)
		}
		for k, v := range map[string]any{"called": "+12025550143", "calling": "2025550100", "caller_id": "+12025550100",
			"dialer": "predictive", "dial_mode": "automated"} {
			if o[k] != v {
				t.Errorf("outcome %d: %s = %v, want %v", i, k, o[k], v)
			}
		}
		if p, ok := o["prerecorded"]; ok {
			t.Errorf("outcome %d: prerecorded = %v, want it absent (false)", i, p)
		}
		// The call ended at the record's time, which ended would repeat.
		if ended, ok := o["ended"]; o["invited"] != d["time"] || ok || o["time"].(string) < o["invited"].(string) {
			t.Errorf("outcome %d: invited %v (decision at %v), ended %v (record at %v, want ended absent)", i, o["invited"], d["time"], ended, o["time"])
		}
	}
	if o := outcomes[0]; o["campaign"] != "spring-sale" || o["duration_s"].(float64) < 0.5 || o["duration_s"].(float64) > 5 {
		t.Errorf("the call held 600 ms: %v", o)
	}
	if o := outcomes[2]; o["duration_s"] != 0.0 {
		t.Errorf("a cancelled call lasted %v s", o["duration_s"])
	}
	if d := decisions[4]; d["decision"] != "reject" || slices.ContainsFunc(outcomes, func(o map[string]any) bool { return o["call_id"] == d["call_id"] }) {
		t.Errorf("the rejected call %v has an outcome", d)
	}
	// 5 decisions, 4 outcomes, the policy put in force at start and the list's import.
	if out, err := g.run("audit", "verify"); err != nil || !strings.Contains(out, "11 records intact") {
		t.Errorf("audit verify: %v %s", err, out)
	}
}

// A SIGTERM whose drain time runs out with calls still up loses nothing: a
// call still ringing is answered 503 and cancelled toward the carrier, one
// still answered is reported ended by the gatekeeper, and both decisions
// and outcomes are in the log.
func TestDrainTimeoutLogsTheCallsItCuts(t *testing.T) {
	// call starts a gatekeeper that drains for 1 s and a call through it
	// between a carrier and a dialer that run these scenarios.
	call := func(t *testing.T, carrierScenario, dialerScenario string, args ...string) (*gatekeeper, *sipp, *sipp) {
		g := newGatekeeper(t)
		g.drainTimeout = "1s"
		g.writeConfig()
		g.start()
		carrier := g.carrier(carrierScenario, 1)
		dialer := startSipp(t, dialerScenario, append([]string{"-i", dialerIP, "-p", fmt.Sprint(freePort(t, dialerIP)), "-s", cleanNumber, "-m", "1",
			fmt.Sprintf("%s:%d", carrierIP, g.port)}, args...)...)
		return g, carrier, dialer
	}
	t.Run("ringing", func(t *testing.T) {
		g, carrier, dialer := call(t, "uas_ring.xml", "uac_reject.xml", "-set", "expect", "503")
		waitFor(t, "the carrier to ring", func() bool { return len(carrier.received()) > 0 })
		g.stop()
		dialer.mustPass()
		waitFor(t, "the carrier to get a CANCEL", func() bool { return slices.ContainsFunc(carrier.received(), prefix("CANCEL ")) })
		d, o := g.auditLog("decision"), g.auditLog("outcome")
		if len(d) != 1 || d[0]["decision"] != "allow" || d[0]["status"] != 503.0 {
			t.Fatalf("decisions after the drain ran out: %v\n%s", d, g.log.String())
		}
		if len(o) != 1 || o[0]["call_id"] != d[0]["call_id"] || o[0]["ended_by"] != "gatekeeper" || o[0]["status"] != 503.0 || o[0]["disposition"] != "failed" {
			t.Errorf("outcomes after the drain ran out: %v", o)
		}
		if strings.Contains(g.log.String(), "queue full") || strings.Contains(g.log.String(), "after Close") {
			t.Errorf("records were lost:\n%s", g.log.String())
		}
	})
	t.Run("answered", func(t *testing.T) {
		g, carrier, _ := call(t, "uas.xml", "uac.xml", "-d", "20000")
		waitFor(t, "the call to be answered", func() bool { return slices.ContainsFunc(carrier.received(), prefix("ACK ")) })
		g.stop()
		d, o := g.auditLog("decision"), g.auditLog("outcome")
		if len(d) != 1 || d[0]["status"] != 200.0 {
			t.Fatalf("decisions after the drain ran out: %v\n%s", d, g.log.String())
		}
		if len(o) != 1 || o[0]["ended_by"] != "gatekeeper" || o[0]["disposition"] != "answered" || o[0]["answered"] == nil || o[0]["duration_s"].(float64) < 0.9 {
			t.Errorf("outcomes after the drain ran out: %v", o)
		}
	})
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitForWithin(t, what, 10*time.Second, cond)
}

// waitForWithin waits up to d for cond, polling every 50 ms.
func waitForWithin(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
