package sip

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Carrier re-INVITE; the dialer's 200 is retransmitted (its ACK is late): the retransmission must go to the carrier.
func TestDialers2xxRetransmissionForACarrierReinviteGoesToTheCarrier(t *testing.T) {
	r := newRig(t, allowAll{})
	establish(t, r, "reinv")
	send(t, r.carrier, r.proxyAddr(), fmt.Sprintf("INVITE sip:2025550100@%s SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKreinv\nRoute: <sip:127.0.0.1:%d;lr>\nMax-Forwards: 70\nFrom: <sip:2025550143@127.0.0.1>;tag=ct\nTo: <sip:2025550100@127.0.0.2>;tag=dt\nCall-ID: reinv\nCSeq: 7 INVITE\nContact: <sip:LOCAL>\nContent-Length: 0\n\n", r.dialer.LocalAddr(), r.port))
	got := recv(r.dialer, 300*time.Millisecond)
	var reinv string
	for _, m := range got {
		if strings.HasPrefix(m, "INVITE") {
			reinv = m
		}
	}
	if reinv == "" {
		t.Fatalf("dialer got no re-INVITE: %q", firstLines(got))
	}
	ok := strings.Replace(answer(reinv, "200 OK", "Contact: <sip:"+r.dialer.LocalAddr().String()+">\n"), "tag=dt;tag=ct", "tag=dt", 1)
	send(t, r.dialer, r.proxyAddr(), ok)
	time.Sleep(100 * time.Millisecond)
	send(t, r.dialer, r.proxyAddr(), ok) // retransmission
	c := firstLines(recv(r.carrier, 300*time.Millisecond))
	d := firstLines(recv(r.dialer, 10*time.Millisecond))
	t.Logf("carrier %q dialer %q", c, d)
	n := 0
	for _, l := range c {
		if l == "SIP/2.0 200 OK" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("carrier got %q, want the 200 twice; dialer got its own 200 back: %q", c, d)
	}
}
