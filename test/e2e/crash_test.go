package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/internal/ftcgen"
)

// calls up through the gatekeeper when it is killed
const crashCalls = 10

// A gatekeeper killed with SIGKILL while calls are up serves again within
// 2 s of the kill, and those calls still hang up through the new process
// from either side (their BYE gets 200, not 481); the audit log verifies,
// the lists are intact, and the frequency counters still count the calls
// placed before the kill.
func TestCallsSetUpBeforeACrashStillHangUp(t *testing.T) {
	for _, side := range []string{"dialer", "carrier"} {
		t.Run(side, func(t *testing.T) {
			g := newGatekeeper(t)
			g.importList("internal", listedNumber)
			g.addRules(fmt.Sprintf(`  - name: frequency
    match:
      attempts: {limit: %d, within: 24h}
    action: reject
    status: 486
`, crashCalls))
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
			// The calls before the kill reached the cap: one more is refused.
			g.dial(dialerIP, "uac_reject.xml", cleanNumber, "-set", "expect", "486").mustPass()
			g.stop()
		})
	}
}

// A gatekeeper killed with SIGKILL in the middle of a 20 M-number import
// through it (a second in, while it reads), or as the import switches the
// list (when its last write is reported), answers once restarted with the
// previous version or the complete new one, and the import command says
// which: the new version when the switch was committed, else that nothing
// of the import is in force.
func TestImportKilledMidwayOrAtTheSwitchSaysWhichVersionAnswers(t *testing.T) {
	t.Run("midway", func(t *testing.T) { importKilledAt(t, "") })
	t.Run("at the switch", func(t *testing.T) { importKilledAt(t, "import: write 100%") })
}

// importKilledAt kills the server as the import's progress line starting
// with line appears, or a second into the import when line is "", and
// checks what the import says against what answers after a restart.
func importKilledAt(t *testing.T, line string) {
	g := newGatekeeper(t)
	g.importList("internal", listedNumber)
	gen := ftcgen.New(ftcgen.Config{AreaCodes: 26, Seed: 3}) // ≈ 20 M numbers
	data := filepath.Join(g.dir, "ftc")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	stats, err := gen.WriteFull(data, ftcgen.Digits, false, 2)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(data, "*.txt"))
	x := gen.Exchanges()[0]
	var listed [ftcgen.LinesPerExchange]bool
	gen.Listed(x, &listed)
	newNumber := string(ftcgen.AppendNumber(nil, x, slices.Index(listed[:], true), ftcgen.Digits))
	g.start()

	imp := exec.Command(binary, append([]string{"import", "--config", g.config, "--list", "internal", "--replace"}, files...)...)
	var stdout bytes.Buffer
	imp.Stdout = &stdout
	stderr, err := imp.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := imp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { imp.Process.Kill() })
	var progress strings.Builder
	var once sync.Once
	killed := false
	kill := func() {
		once.Do(func() {
			g.cmd.Process.Kill()
			<-g.exited
			killed = true
			if !g.run1() {
				t.Errorf("the gatekeeper did not start again:\n%s", g.log.String())
			}
		})
	}
	if line == "" {
		time.Sleep(time.Second)
		kill()
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		progress.WriteString(sc.Text() + "\n")
		if line != "" && strings.HasPrefix(sc.Text(), line) {
			kill()
		}
	}
	err = imp.Wait()
	if !killed {
		t.Fatalf("the import never reported its writes done (%v):\n%s", err, progress.String())
	}
	t.Logf("%d numbers; import: %v\n%s%s", stats.Numbers, err, stdout.String(), progress.String())

	out, lerr := g.run("lookup", newNumber)
	if lerr != nil {
		t.Fatalf("lookup: %v %s", lerr, out)
	}
	inForce := strings.Contains(out, "internal")
	switch {
	case err == nil && !strings.Contains(stdout.String(), "imported list internal: version "):
		t.Errorf("the import succeeded without saying so:\n%s", stdout.String())
	case err == nil && !inForce:
		t.Errorf("the import reported success, but %s is not listed after the restart:\n%s", newNumber, out)
	case err != nil && inForce:
		t.Errorf("the import reported failure, but its data answers after the restart:\n%s", progress.String())
	case err != nil && !strings.Contains(progress.String(), "before the import was applied: list internal keeps version 1"):
		t.Errorf("the failed import does not say the previous version answers:\n%s", progress.String())
	}
	g.stop()
}
