package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountSmallDisk mounts a tmpfs of size bytes at dir: a real file system
// that refuses writes once full. It skips the test where mounting is not
// allowed (not root, or no tmpfs).
func mountSmallDisk(t *testing.T, dir string, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
}

// fill writes to a file in dir until the file system refuses.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return path
		}
	}
}

// A disk that refuses the log's writes: automated calls get 503 with
// Retry-After and are not decided, manual calls go on (audit.on_failure's
// default), once per episode in the log and counted; once the disk takes
// writes again, calls are decided again and every decision is on disk.
func TestFullDiskRefusesAutomatedCalls(t *testing.T) {
	g := newGatekeeper(t)
	mountSmallDisk(t, filepath.Join(g.dir, "audit"), "256k")
	g.importList("internal", listedNumber)
	g.start()
	carrier := g.carrier("uas.xml", 3)
	g.dial(dialerIP, "uac.xml", cleanNumber).mustPass()
	for deadline := time.Now().Add(5 * time.Second); len(g.auditRecords()) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first call's decision is not on disk after 5 s")
		}
	}

	filler := fill(t, filepath.Join(g.dir, "audit"))
	// Calls are decided until a record needs more room than the day file's
	// last page has left: the writer fails to write it.
	rejects := 0
	for !strings.Contains(g.log.String(), "cannot write the decision log") {
		if rejects == 8 {
			t.Fatalf("8 records written to a full disk:\n%s", g.log.String())
		}
		if out := g.dial(dialerIP, "uac_any.xml", listedNumber).out.String(); !strings.Contains(out, "answer: SIP/2.0 603 Decline") {
			t.Fatalf("a listed number got:\n%s", out)
		}
		rejects++
		time.Sleep(50 * time.Millisecond) // more than audit.flush_interval
	}

	refused := g.dial(dialerIP, "uac_any.xml", cleanNumber)
	if out := refused.out.String(); !strings.Contains(out, "answer: SIP/2.0 503 Service Unavailable") {
		t.Fatalf("an automated call while the disk is full got:\n%s", out)
	}
	if msgs := refused.messages(); !strings.Contains(msgs, "Retry-After: 5") {
		t.Errorf("the 503 has no Retry-After:\n%s", msgs)
	}
	g.dial(dialerIP, "uac_manual.xml", cleanNumber).mustPass()
	g.dial(dialerIP, "uac_any.xml", cleanNumber) // refused again, but logged once
	if n := strings.Count(g.log.String(), "cannot record decisions"); n != 1 {
		t.Errorf("the episode was logged %d times, want once:\n%s", n, g.log.String())
	}
	m := g.adminGet("/metrics")
	for _, want := range []string{"gatekeeper_audit_refused_calls_total 2", "gatekeeper_audit_healthy 0"} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	g.waitLog("audit: writing again")
	g.dial(dialerIP, "uac.xml", cleanNumber).mustPass()
	g.waitLog("keeps up again")
	carrier.mustPass()
	g.stop()

	// Every call that was decided is in the log, and it verifies.
	decided := map[string]int{}
	for _, r := range g.auditRecords() {
		decided[r["decision"].(string)]++
	}
	if decided["allow"] != 3 || decided["reject"] != rejects {
		t.Errorf("decisions logged %v; want 3 allowed (one manual), %d rejected", decided, rejects)
	}
	if out, err := g.run("audit", "verify"); err != nil || !strings.Contains(out, fmt.Sprintf("%d records intact", 3+rejects)) {
		t.Errorf("audit verify: %v %s", err, out)
	}
}
