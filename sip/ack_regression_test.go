package sip

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func establish(t *testing.T, r *rig, cid string) (carrierInvite string) {
	send(t, r.dialer, r.proxyAddr(), invite(cid, "est"+cid))
	got := recv(r.carrier, 300*time.Millisecond)
	if len(got) == 0 {
		t.Fatal("carrier got no INVITE")
	}
	send(t, r.carrier, r.proxyAddr(), answer(got[0], "200 OK", "Contact: <sip:"+r.carrier.LocalAddr().String()+">\n"))
	d := firstLines(recv(r.dialer, 300*time.Millisecond))
	if len(d) == 0 || d[len(d)-1] != "SIP/2.0 200 OK" {
		t.Fatalf("dialer got %q", d)
	}
	return got[0]
}

func TestAckWithMaxForwardsZeroIsNotForwarded(t *testing.T) {
	r := newRig(t, allowAll{})
	establish(t, r, "ack-mf")
	send(t, r.dialer, r.proxyAddr(), fmt.Sprintf("ACK sip:%s SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKack1\nRoute: <sip:127.0.0.1:%d;lr>\nMax-Forwards: 0\nFrom: <sip:2025550100@127.0.0.2>;tag=dt\nTo: <sip:2025550143@127.0.0.1>;tag=ct\nCall-ID: ack-mf\nCSeq: 1 ACK\nContent-Length: 0\n\n", r.carrier.LocalAddr(), r.port))
	for _, m := range recv(r.carrier, 300*time.Millisecond) {
		if strings.HasPrefix(m, "ACK") && !strings.Contains(m, "Max-Forwards: 0") {
			i := strings.Index(m, "Max-Forwards")
			t.Errorf("ACK with Max-Forwards 0 was forwarded as %q", m[i:i+26])
		}
	}
}

// A stranger who knows a live Call-ID injects a 2xx that the proxy relays to the dialer.
func TestStrangers2xxIsNotRelayedToTheDialer(t *testing.T) {
	r := newRig(t, allowAll{})
	establish(t, r, "inj")
	stranger := freeUDP(t, "127.0.0.3")
	send(t, stranger, r.proxyAddr(), fmt.Sprintf("SIP/2.0 200 OK\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKforged\nVia: SIP/2.0/UDP 127.0.0.2:1\nFrom: <sip:a@b>;tag=dt\nTo: <sip:c@d>;tag=evil\nCall-ID: inj\nCSeq: 1 INVITE\nContact: <sip:attacker@127.0.0.3>\nContent-Length: 0\n\n", r.port))
	for _, m := range recv(r.dialer, 300*time.Millisecond) {
		if strings.Contains(m, "tag=evil") {
			t.Errorf("stranger's forged 2xx reached the dialer:\n%s", m)
		}
	}
}

// The ACK of an answered call's INVITE is relayed as the UDP socket reads
// it (takeAck), without a transaction of sipgo's; an ACK with another CSeq
// number (a re-INVITE's, which may be hop-by-hop) or of a call the table
// does not hold is left to sipgo.
func TestAckOfAnAnsweredInviteIsRelayedAsRead(t *testing.T) {
	r := newRig(t, allowAll{})
	establishVia(t, r, "fast-ack")
	from := r.dialer.LocalAddr()
	ack := func(callID, seq string) []byte {
		return []byte(strings.ReplaceAll("ACK sip:2025550143@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP "+from.String()+";branch=z9hG4bKfa\n"+
			"Max-Forwards: 70\nFrom: <sip:2025550100@127.0.0.2>;tag=dt\nTo: <sip:2025550143@127.0.0.1>;tag=ct\nCall-ID: "+callID+
			"\nCSeq: "+seq+" ACK\nContent-Length: 0\n\n", "\n", "\r\n"))
	}
	if !r.p.takeAck(ack("fast-ack", "1"), from) {
		t.Fatal("the ACK of the call's INVITE was not taken")
	}
	await(t, r.carrier, time.Second, "ACK ")
	for _, other := range [][2]string{{"fast-ack", "2"}, {"no-such-call", "1"}} {
		if r.p.takeAck(ack(other[0], other[1]), from) {
			t.Errorf("the ACK of call %s with CSeq %s was taken", other[0], other[1])
		}
	}
}

// An ACK whose relaying could hold the UDP socket's reading is left to
// sipgo: one too large to be sure to stay on UDP toward the carrier (a
// larger one goes over TCP, whose connect may wait), and one of a call
// whose dialer is reached over TCP (a carrier's ACK with the same CSeq
// number would be written to the dialer's connection).
func TestAckThatMayLeaveUDPIsNotTakenAsRead(t *testing.T) {
	r := newRig(t, allowAll{})
	establishVia(t, r, "big-ack")
	from := r.dialer.LocalAddr()
	body := strings.Repeat("a=x-pad:0123456789\r\n", 70)
	big := strings.ReplaceAll("ACK sip:2025550143@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP "+from.String()+";branch=z9hG4bKba\n"+
		"Max-Forwards: 70\nFrom: <sip:2025550100@127.0.0.2>;tag=dt\nTo: <sip:2025550143@127.0.0.1>;tag=ct\nCall-ID: big-ack"+
		"\nCSeq: 1 ACK\nContent-Type: application/sdp\nContent-Length: "+fmt.Sprint(len(body))+"\n\n", "\n", "\r\n") + body
	if r.p.takeAck([]byte(big), from) {
		t.Errorf("an ACK of %d bytes was taken as read", len(big))
	}

	r.p.dialogs.add(&dialog{callID: "tcp-dialer", inviteSeq: 1, answered: true, dialerTransport: "tcp", carrierTransport: "udp"})
	if r.p.dialogs.hasUDP([]byte("tcp-dialer"), 1) {
		t.Error("a call whose dialer is reached over TCP counts as all UDP")
	}
}

// The ACK of an INVITE the dialer got no 2xx for is hop-by-hop (RFC 3261
// §17.1.1.3): while the carrier's side of the call is still open (it rings
// after the dialer was given 408, or sipgo answered a CANCEL with 487),
// such an ACK is left to sipgo's server transaction, never relayed to the
// carrier.
func TestAckOfAnUnansweredInviteIsNotTakenAsRead(t *testing.T) {
	r := newRig(t, allowAll{})
	got := r.placeCall(t, invite("ringing-ack", "rack"))
	send(t, r.carrier, r.proxyAddr(), answer(got, "180 Ringing", ""))
	await(t, r.dialer, time.Second, "SIP/2.0 180 ")
	from := r.dialer.LocalAddr()
	ack := strings.ReplaceAll("ACK sip:2025550143@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP "+from.String()+";branch=z9hG4bKrack\n"+
		"Max-Forwards: 70\nFrom: <sip:2025550100@127.0.0.2>;tag=dt\nTo: <sip:2025550143@127.0.0.1>;tag=gk\nCall-ID: ringing-ack"+
		"\nCSeq: 1 ACK\nContent-Length: 0\n\n", "\n", "\r\n")
	if r.p.takeAck([]byte(ack), from) {
		t.Error("the ACK of a call not answered was taken as read")
	}
	for _, m := range recv(r.carrier, 300*time.Millisecond) {
		if strings.HasPrefix(m, "ACK ") {
			t.Errorf("the carrier got an ACK for a call it has not answered:\n%s", m)
		}
	}
}
