package e2e

import (
	"strings"
	"testing"
)

// Over UDP and TCP, a dialer that cancels a ringing call gets the carrier's
// 487, with the carrier's To tag (RFC 3261 §16.7), and the gatekeeper's ACK
// for that 487 has one Via, the INVITE's top one (§17.1.1.3).
func TestCancelledCallEndsWithTheCarriers487(t *testing.T) {
	for _, transport := range []string{"u1", "t1"} {
		t.Run(transport, func(t *testing.T) {
			g := newGatekeeper(t)
			g.start()
			carrier := g.carrier("uas_ring.xml", 1)
			dialer := g.dial(dialerIP, "uac_cancel.xml", cleanNumber, "-t", transport)
			dialer.mustPass()
			carrier.mustPass()
			if to := headerOf(dialer.messages(), "SIP/2.0 487", "To:"); !strings.Contains(to, "SIPpTag01") {
				t.Errorf("the dialer's 487 has To %q, not the carrier's tag (SIPpTag01)", to)
			}
			trace := carrier.messages()
			ack, invite := messageOf(trace, "ACK "), messageOf(trace, "INVITE ")
			if vias, sent := headerLines(ack, "Via:", "v:"), headerLines(invite, "Via:", "v:"); len(vias) != 1 || len(sent) != 2 || vias[0] != sent[0] {
				t.Errorf("the ACK for the 487 has Vias %q, want only the INVITE's top one of %q\n%s", vias, sent, trace)
			}
		})
	}
}

// headerLines lists the lines of msg that begin with one of names.
func headerLines(msg string, names ...string) []string {
	var out []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		for _, name := range names {
			if strings.HasPrefix(l, name) {
				out = append(out, l)
			}
		}
	}
	return out
}
