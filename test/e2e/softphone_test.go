package e2e

import (
	"strings"
	"testing"
)

// Over UDP and TCP, a dialer that cancels a ringing call gets the carrier's
// 487, with the carrier's To tag (RFC 3261 §16.7).
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
		})
	}
}
