package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// A 2.1 KB INVITE from a UDP dialer is over RFC 3261 §18.1.1's 1300 bytes:
// it reaches a carrier that speaks TCP over TCP, with a TCP Via and
// Record-Route, and the rest of the call follows it there.
func TestLargeInviteGoesToTheCarrierOverTCP(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	carrier := g.carrier("uas.xml", 1, "-t", "t1")
	g.dial(dialerIP, "uac_large.xml", cleanNumber).mustPass()
	carrier.mustPass()
	inv := messageOf(carrier.messages(), "INVITE ")
	if body, _ := strconv.Atoi(headerOf(carrier.messages(), "INVITE ", "Content-Length:")); body <= 1300 || !regexp.MustCompile(`(?m)^Via: SIP/2.0/TCP `).MatchString(inv) {
		t.Errorf("the carrier did not get the large INVITE over TCP with our TCP Via:\n%s", inv)
	}
	if rr := recordRoutes(carrier.messages()); len(rr) == 0 || !strings.Contains(rr[0], "transport=tcp") {
		t.Errorf("the carrier's Record-Route %q does not say TCP", rr)
	}
}

// A carrier that speaks only UDP refuses the TCP connection: the large INVITE
// goes over UDP after all (§18.1.1), and the call completes. With
// large_requests: udp the gatekeeper does not try TCP at all.
func TestLargeInviteReachesAUDPOnlyCarrier(t *testing.T) {
	for _, setting := range []string{"", "  large_requests: udp\n"} {
		t.Run("large_requests="+strings.TrimSpace(strings.TrimPrefix(setting, "  large_requests:")), func(t *testing.T) {
			g := newGatekeeper(t)
			g.sipExtra = setting
			g.writeConfig()
			g.start()
			carrier := g.carrier("uas.xml", 1)
			g.dial(dialerIP, "uac_large.xml", cleanNumber).mustPass()
			carrier.mustPass()
			triedTCP := strings.Contains(g.log.String(), "could not go over TCP")
			if triedTCP != (setting == "") {
				t.Errorf("tried TCP first: %v, want %v\n%s", triedTCP, setting == "", g.log.String())
			}
		})
	}
}
