package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// calls up through the gatekeeper when it is killed
const crashCalls = 10

// A gatekeeper killed with SIGKILL while calls are up serves again within
// 2 s of the kill, and those calls still hang up through the new process
// from either side (their BYE gets 200, not 481); the audit log verifies
// and the lists are intact.
func TestCallsSetUpBeforeACrashStillHangUp(t *testing.T) {
	for _, side := range []string{"dialer", "carrier"} {
		t.Run(side, func(t *testing.T) {
			g := newGatekeeper(t)
			g.importList("internal", listedNumber)
			g.start()
			dialerScenario, carrierScenario := "uac.xml", "uas.xml"
			hold := []string{"-d", "5000"}
			var dialerHold, carrierHold []string
			if side == "carrier" {
				dialerScenario, carrierScenario = "uac_recv_bye.xml", "uas_bye.xml"
				carrierHold = hold
			} else {
				dialerHold = hold
			}
			carrier := g.carrier(carrierScenario, crashCalls, carrierHold...)
			args := append([]string{"-i", dialerIP, "-p", fmt.Sprint(freePort(t, dialerIP)), "-s", cleanNumber,
				"-m", fmt.Sprint(crashCalls), "-r", "20", fmt.Sprintf("%s:%d", carrierIP, g.port)}, dialerHold...)
			dialer := startSipp(t, dialerScenario, args...)

			// Every call answered: the carrier has sent (and SIPp logged) its 200s and the ACKs came.
			deadline := time.Now().Add(10 * time.Second)
			for strings.Count(carrier.messages(), "ACK sip:") < crashCalls {
				if time.Now().After(deadline) {
					t.Fatalf("the calls were not all set up:\n%s", carrier.messages())
				}
				time.Sleep(50 * time.Millisecond)
			}
			g.cmd.Process.Kill()
			<-g.exited
			killed := time.Now()
			if !g.run1() {
				t.Fatalf("the gatekeeper did not start again:\n%s", g.log.String())
			}
			restart := time.Since(killed)
			t.Logf("serving again %v after SIGKILL", restart.Round(time.Millisecond))
			if restart > 2*time.Second {
				t.Errorf("serving again took %v, want under 2 s", restart)
			}

			dialer.mustPass()
			carrier.mustPass()
			if n := strings.Count(dialer.messages()+carrier.messages(), "SIP/2.0 481"); n != 0 {
				t.Errorf("%d hang-ups got 481", n)
			}
			if out, err := g.run("audit", "verify"); err != nil || !strings.Contains(out, "intact") {
				t.Errorf("audit verify after the crash: %v %s", err, out)
			}
			if out, err := g.run("lookup", listedNumber); err != nil || !strings.Contains(out, "internal") {
				t.Errorf("lookup after the crash: %v %s", err, out)
			}
			g.stop()
		})
	}
}
