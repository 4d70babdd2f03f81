package sip

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// playCarrier reads what reaches the carrier for d, answering each CANCEL
// and BYE with 200, and returns the start lines of the messages of call callID.
func playCarrier(t *testing.T, r *rig, callID string, d time.Duration) []string {
	var lines []string
	for _, m := range recv(r.carrier, d) {
		if !strings.Contains(m, "\r\nCall-ID: "+callID+"\r\n") {
			continue
		}
		lines = append(lines, firstLines([]string{m})...)
		if strings.HasPrefix(m, "CANCEL ") || strings.HasPrefix(m, "BYE ") {
			send(t, r.carrier, r.proxyAddr(), strings.Replace(answer(m, "200 OK", ""), ";tag=ct;tag=ct", ";tag=ct", 1))
		}
	}
	return lines
}

// inviteFinals are the distinct final statuses the dialer got for the INVITE of call callID.
func inviteFinals(msgs []string, callID string) []string {
	var finals []string
	for _, m := range msgs {
		if strings.HasPrefix(m, "SIP/2.0 ") && !strings.HasPrefix(m, "SIP/2.0 1") && strings.Contains(m, "\r\nCSeq: 1 INVITE\r\n") && strings.Contains(m, "\r\nCall-ID: "+callID+"\r\n") {
			finals = append(finals, m[8:11])
		}
	}
	slices.Sort(finals)
	return slices.Compact(finals)
}

// A CANCEL that crosses the carrier's 200 ends one of two ways, and the
// dialer and the carrier always agree: the dialer gets 487 (and never the
// 200) while the carrier gets ACK and BYE, or the dialer gets the 200 (its
// CANCEL cancels nothing) and the carrier keeps the call. Each run sends the
// CANCEL and the 200 at the same instant, in turn one or the other first; a
// CANCEL that arrives first always wins.
func TestCancelCrossingThe200EndsTheSameForBothSides(t *testing.T) {
	r := newRig(t, allowAll{})
	const runs = 30
	outcomes := map[string]int{}
	for i := range runs {
		cid := fmt.Sprintf("cross-%d", i)
		inv := invite(cid, fmt.Sprintf("cross%d", i))
		send(t, r.dialer, r.proxyAddr(), inv)
		got := recvCall(r.carrier, cid, time.Second)
		if len(got) == 0 {
			t.Fatalf("run %d: the carrier got no INVITE", i)
		}
		send(t, r.carrier, r.proxyAddr(), answer(got[0], "180 Ringing", ""))
		if l := firstLines(recv(r.dialer, 200*time.Millisecond)); !slices.Contains(l, "SIP/2.0 180 Ringing") {
			t.Fatalf("run %d: the dialer did not hear it ring: %q", i, l)
		}
		cancel := cancelText(inv)
		ok := answer(got[0], "200 OK", "Contact: <sip:"+r.carrier.LocalAddr().String()+">\n")
		type msg struct {
			c    net.PacketConn
			text string
		}
		both := []msg{{r.dialer, cancel}, {r.carrier, ok}}
		if i%2 == 1 {
			both[0], both[1] = both[1], both[0]
		}
		for _, m := range both {
			send(t, m.c, r.proxyAddr(), m.text)
		}
		carrierSaw := playCarrier(t, r, cid, 400*time.Millisecond)
		dialerGot := recv(r.dialer, 100*time.Millisecond)
		finals := inviteFinals(dialerGot, cid)
		carrierBye := slices.ContainsFunc(carrierSaw, func(l string) bool { return strings.HasPrefix(l, "BYE ") })
		switch fmt.Sprint(finals) {
		case "[487]":
			if !carrierBye || !slices.ContainsFunc(carrierSaw, func(l string) bool { return strings.HasPrefix(l, "ACK ") }) {
				t.Errorf("run %d: the dialer got 487 but the carrier, who answered 200, saw %q", i, carrierSaw)
			}
			// The ACK for the 487 is hop-by-hop (RFC 3261 §17.1.1.3): it stops the proxy's retransmissions.
			send(t, r.dialer, r.proxyAddr(), strings.Replace(strings.Replace(cancel, "CANCEL sip", "ACK sip", 1), "1 CANCEL", "1 ACK", 1))
			outcomes["both out"]++
		case "[200]":
			if i%2 == 0 {
				t.Errorf("run %d: the CANCEL came first, yet the dialer got the 200", i)
			}
			if carrierBye {
				t.Errorf("run %d: the dialer got the 200 but the carrier was sent BYE: %q", i, carrierSaw)
			}
			// The dialer is in the call: its ACK and BYE reach the carrier.
			ack := fmt.Sprintf("ACK sip:%s SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKa%d\nMax-Forwards: 70\nFrom: <sip:2025550100@127.0.0.2>;tag=dt\nTo: <sip:2025550143@127.0.0.1>;tag=ct\nCall-ID: %s\nCSeq: 1 ACK\nContent-Length: 0\n\n", r.carrier.LocalAddr(), i, cid)
			send(t, r.dialer, r.proxyAddr(), ack)
			send(t, r.dialer, r.proxyAddr(), bye("<sip:127.0.0.1:1;lr>", cid, "dt", "ct", fmt.Sprint("b", i)))
			saw := playCarrier(t, r, cid, 300*time.Millisecond)
			if !slices.ContainsFunc(saw, func(l string) bool { return strings.HasPrefix(l, "ACK ") }) || !slices.ContainsFunc(saw, func(l string) bool { return strings.HasPrefix(l, "BYE ") }) {
				t.Errorf("run %d: the dialer got the 200, but its ACK and BYE reached the carrier as %q", i, saw)
			}
			recv(r.dialer, 50*time.Millisecond)
			outcomes["both in"]++
		default:
			t.Errorf("run %d: the dialer's INVITE ended with %v (carrier saw %q)", i, finals, carrierSaw)
		}
	}
	t.Logf("%d runs: %v", runs, outcomes)
}
