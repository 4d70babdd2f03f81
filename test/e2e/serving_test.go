package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A server whose policy needs the national list says in its log that the
// list is missing (every call is refused), logs the import made through it,
// says when the list is fresh again, and reports the list's age as a metric.
func TestServerSaysWhatIsWrongWhileServing(t *testing.T) {
	g := newGatekeeper(t)
	g.useShippedPolicy()
	g.start()
	if log := g.log.String(); !strings.Contains(log, `level=WARN msg="list ftc was never imported: rule national-registry-stale rejects calls until it is"`) {
		t.Errorf("no warning of the missing national list:\n%s", log)
	}
	g.importListWith("ftc", []string{"--source-date", time.Now().Format(time.DateOnly)}, "2025550199")
	if log := g.log.String(); !regexp.MustCompile(`level=INFO msg="admin: change through the socket" path=/v1/import status=200 .*\\"list\\":\\"ftc\\".* answer="\{\\"result\\":\{\\"name\\":\\"ftc\\"`).MatchString(log) {
		t.Errorf("the server did not log the import made through it:\n%s", log)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(g.log.String(), "list ftc is fresh again") {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not say the list is fresh again:\n%s", g.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if m := g.adminGet("/metrics"); !regexp.MustCompile(`(?m)^gatekeeper_list_age_seconds\{list="ftc"\} \d`).MatchString(m) {
		t.Errorf("no age metric for ftc:\n%s", m)
	}
	g.stop()
}

// The build's VCS revision and time, which go build embeds in a git
// checkout, show in `gatekeeper version` and in every decision record.
func TestVersionCarriesTheRevision(t *testing.T) {
	info, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatal(err)
	}
	rev := regexp.MustCompile(`vcs\.revision=([0-9a-f]{12})`).FindSubmatch(info)
	at := regexp.MustCompile(`vcs\.time=(\S+)`).FindSubmatch(info)
	if rev == nil || at == nil {
		t.Skip("the binary has no VCS information: built outside a git checkout (a git worktree is one)")
	}
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "gatekeeper "+string(rev[1])) || !strings.Contains(string(out), string(at[1])) {
		t.Errorf("version: %v %q; want revision %s and time %s", err, out, rev[1], at[1])
	}
	g := newGatekeeper(t)
	g.start()
	carrier := g.carrier("uas.xml", 1)
	g.dial(dialerIP, "uac.xml", cleanNumber).mustPass()
	carrier.mustPass()
	g.stop()
	if recs := g.auditRecords(); len(recs) != 1 || recs[0]["version"] != strings.TrimPrefix(strings.TrimSpace(string(out)), "gatekeeper ") {
		t.Errorf("audit version %v; want the build's %q", recs, out)
	}
}

// A start that fails, its SIP address in use, records no start: the audit
// log shows no policy put in force by a gatekeeper that never served.
func TestAFailedStartRecordsNoStart(t *testing.T) {
	g := newGatekeeper(t)
	busy, err := net.ListenPacket("udp", fmt.Sprintf("%s:%d", carrierIP, g.port)) // the SIP listener's address
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if g.run1() {
		t.Fatal("the gatekeeper served on an address in use")
	}
	if log := g.log.String(); !strings.Contains(log, "address already in use") {
		t.Fatalf("the failed start does not say why:\n%s", log)
	}
	if loads := g.auditLog("policy_loaded"); len(loads) != 0 {
		t.Errorf("a start that never served was recorded: %v", loads)
	}
}
