package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// Two gatekeepers share one NATS server, embedded in the first: a called
// person's opt-out recorded through node A is enforced on the next call
// through node B, and `cluster status` on B shows B has applied it. With B
// stopped, `dnc add` on B is refused rather than written into B alone.
func TestOptOutThroughOneNodeHoldsOnAnother(t *testing.T) {
	natsPort := freePort(t, carrierIP)
	a := newGatekeeper(t)
	a.sections = fmt.Sprintf("cluster:\n  node: gk-a\n  embedded:\n    listen: %s:%d\n", carrierIP, natsPort)
	a.writeConfig()
	a.start()
	b := newGatekeeper(t)
	b.sections = fmt.Sprintf("cluster:\n  node: gk-b\n  nats: [\"nats://%s:%d\"]\n", carrierIP, natsPort)
	b.writeConfig()
	b.start()

	carrier := b.carrier("uas.xml", 1)
	b.dial(dialerIP, "uac.xml", listedNumber).mustPass()
	out, err := a.run("dnc", "add", "--list", "internal", "--reason", "asked on the call", listedNumber)
	if err != nil || !strings.HasPrefix(out, "+1"+listedNumber+"  internal: listed (add by ") {
		t.Fatalf("dnc add on node A: %v\n%s", err, out)
	}
	b.dial(dialerIP, "uac_reject.xml", listedNumber, "-set", "expect", "603").mustPass()
	carrier.mustPass()

	out, err = b.run("cluster", "status")
	if err != nil || !regexp.MustCompile(`(?m)^bucket\s+KV_gk_optouts\s+1\s+1\s+1\s+1\s+0\s`).MatchString(out) {
		t.Errorf("cluster status on node B: %v\n%s", err, out)
	}
	b.stop()
	// With node B stopped, an opt-out written into its registry alone would never reach A.
	if out, err := b.run("dnc", "add", "--list", "internal", "2025550100"); err == nil || !strings.Contains(out, "in a cluster (node gk-b), opt-outs and consents go through a running node") {
		t.Errorf("dnc add with node B stopped: %v\n%s", err, out)
	}
	a.stop()
}
