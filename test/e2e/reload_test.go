package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPolicyReloadsOnSIGHUPAndOnChangeAndRefusesABadFile(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	policyFile := filepath.Join(g.dir, "policy.yaml")

	writeFile(t, policyFile, "mode: enforce\nrules:\n  - name: closed-for-maintenance\n    action: reject\n    status: 480\n    reason: Temporarily Unavailable\n")
	g.cmd.Process.Signal(syscall.SIGHUP)
	g.waitLog(`policy reloaded`)
	g.dial(dialerIP, "uac_reject.xml", cleanNumber, "-set", "expect", "480").mustPass()

	// A broken file is refused with its place; the running policy stays.
	writeFile(t, policyFile, "mode: enforce\nrules:\n  - name: x\n    action: maybe\n")
	g.cmd.Process.Signal(syscall.SIGHUP)
	g.waitLog(`policy reload refused`)
	if !strings.Contains(g.log.String(), "policy.yaml:4:13") {
		t.Errorf("refusal does not name line and column:\n%s", g.log.String())
	}
	g.dial(dialerIP, "uac_reject.xml", cleanNumber, "-set", "expect", "480").mustPass()

	// Saving a good file is enough: no signal needed.
	writeFile(t, policyFile, "mode: enforce\nrules:\n  - name: all-busy\n    action: reject\n    status: 486\n")
	g.waitLogCount(`policy reloaded`, 2)
	g.dial(dialerIP, "uac_reject.xml", cleanNumber, "-set", "expect", "486").mustPass()

	// Each policy put in force is logged, and its text kept under its hash;
	// the refused one is neither.
	g.stop()
	loads := g.auditLog("policy_loaded")
	var triggers []string
	for _, l := range loads {
		triggers = append(triggers, l["trigger"].(string))
		sha := l["policy_sha256"].(string)
		text, err := os.ReadFile(filepath.Join(g.dir, "audit", "policies", sha+".yaml"))
		if sum := sha256.Sum256(text); err != nil || hex.EncodeToString(sum[:]) != sha {
			t.Errorf("policy %s: text kept %q, %v", sha, text, err)
		}
	}
	if strings.Join(triggers, ",") != "start,SIGHUP,file changed" {
		t.Errorf("policy_loaded triggers %v, want start, SIGHUP, file changed", triggers)
	}
	if kept, _ := filepath.Glob(filepath.Join(g.dir, "audit", "policies", "*")); len(kept) != 3 {
		t.Errorf("policies kept: %v", kept)
	}
}

// waitLog waits until the gatekeeper's log holds text.
func (g *gatekeeper) waitLog(text string) { g.waitLogCount(text, 1) }

func (g *gatekeeper) waitLogCount(text string, n int) {
	g.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(g.log.String(), text) < n {
		if time.Now().After(deadline) {
			g.t.Fatalf("log never showed %q %d times:\n%s", text, n, g.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSIGTERMDrainsCallsInFlightAndRefusesNewOnes(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	carrier := g.carrier("uas.xml", 1)
	// A call that stays up for 2 s after it is answered.
	inFlight := startSipp(t, "uac.xml", "-i", dialerIP, "-p", fmt.Sprint(freePort(t, dialerIP)), "-s", cleanNumber, "-m", "1", "-d", "2000",
		fmt.Sprintf("%s:%d", carrierIP, g.port))
	time.Sleep(700 * time.Millisecond)
	g.cmd.Process.Signal(syscall.SIGTERM)
	g.waitLog("draining")
	g.dial(dialerIP, "uac_reject.xml", cleanNumber, "-set", "expect", "503").mustPass()

	inFlight.mustPass() // its BYE still went through
	carrier.mustPass()
	select {
	case err := <-g.exited:
		if err != nil {
			t.Fatalf("gatekeeper exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gatekeeper did not exit after the drain")
	}
	if recs := g.auditRecords(); len(recs) != 1 || recs[0]["status"] != 200.0 {
		t.Fatalf("audit after drain: %v", recs)
	}
}
