package sip

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A 100 Trying is hop by hop (RFC 3261 §16.7 step 2): only 101-199 start
// Timer C again, so a carrier that keeps sending 100 after its 180 does
// not keep a call ringing past it.
func TestA100DoesNotPutOffTimerC(t *testing.T) {
	r := newRigWith(t, allowAll{}, func(c *Config) { c.TimerC = 400 * time.Millisecond })
	got := r.placeCall(t, invite("tc100", "tc100"))
	send(t, r.carrier, r.proxyAddr(), answer(got, "180 Ringing", ""))
	awaitNext(t, r.dialer, time.Second, "SIP/2.0 180 ")
	rang := time.Now()
	var cancel string
	for i := 0; i < 15 && cancel == ""; i++ {
		send(t, r.carrier, r.proxyAddr(), answer(got, "100 Trying", ""))
		for _, m := range recv(r.carrier, 100*time.Millisecond) {
			if strings.HasPrefix(m, "CANCEL ") {
				cancel = m
			}
		}
	}
	if cancel == "" {
		t.Fatalf("no CANCEL %v after the 180, with a 100 every 100 ms and Timer C at 400 ms", time.Since(rang).Round(time.Millisecond))
	}
	send(t, r.carrier, r.proxyAddr(), answer(cancel, "200 OK", ""))
	send(t, r.carrier, r.proxyAddr(), answer(got, "487 Request Terminated", ""))
	await(t, r.dialer, time.Second, "SIP/2.0 408 ")
}

// carrierReinvite sets up the rig's call callID and has the carrier
// re-INVITE it (CSeq 7, branch): it returns the re-INVITE as the dialer got
// it and the carrier's CANCEL of it.
func (r *rig) carrierReinvite(t *testing.T, callID, branch string) (reinv, cancel string) {
	t.Helper()
	establish(t, r, callID)
	reinvite := fmt.Sprintf("INVITE sip:2025550100@%s SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bK%s\nRoute: <sip:127.0.0.1:%d;lr>\nMax-Forwards: 70\nFrom: <sip:2025550143@127.0.0.1>;tag=ct\nTo: <sip:2025550100@127.0.0.2>;tag=dt\nCall-ID: %s\nCSeq: 7 INVITE\nContact: <sip:LOCAL>\nContent-Length: 0\n\n", r.dialer.LocalAddr(), branch, r.port, callID)
	cancel = strings.Replace(strings.Replace(strings.Replace(reinvite, "INVITE sip", "CANCEL sip", 1), "7 INVITE", "7 CANCEL", 1), "Contact: <sip:LOCAL>\n", "", 1)
	send(t, r.carrier, r.proxyAddr(), reinvite)
	return awaitNext(t, r.dialer, time.Second, "INVITE "), cancel
}

// dialerAnswers sends the dialer's answer of status to msg, a request the
// proxy relayed to it (its To has the dialer's tag already).
func (r *rig) dialerAnswers(t *testing.T, msg, status string) {
	t.Helper()
	send(t, r.dialer, r.proxyAddr(), strings.Replace(answer(msg, status, "Contact: <sip:"+r.dialer.LocalAddr().String()+">\n"), "tag=dt;tag=ct", "tag=dt", 1))
}

// dialerRings has the dialer answer reinv 180, and waits for the carrier
// to get it.
func (r *rig) dialerRings(t *testing.T, reinv string) {
	t.Helper()
	r.dialerAnswers(t, reinv, "180 Ringing")
	awaitNext(t, r.carrier, time.Second, "SIP/2.0 180 ")
}

// dialerIsCancelled waits up to d for the dialer's CANCEL of reinv, has
// the dialer answer it 200 and reinv 487, and checks that the carrier gets
// that 487.
func (r *rig) dialerIsCancelled(t *testing.T, reinv string, d time.Duration) {
	t.Helper()
	r.dialerAnswers(t, awaitNext(t, r.dialer, d, "CANCEL "), "200 OK")
	r.dialerAnswers(t, reinv, "487 Request Terminated")
	if final := awaitNext(t, r.carrier, time.Second, "SIP/2.0 487 "); !strings.Contains(final, "CSeq: 7 INVITE") {
		t.Errorf("the carrier's 487 is not its re-INVITE's: %q", final)
	}
}

// A re-INVITE that rings and is never answered ends as an INVITE does
// (RFC 3261 §16.8): Timer C runs out, the side it went to gets a CANCEL,
// and that side's 487 reaches the side that sent it.
func TestARingingReinviteIsCancelledWhenTimerCRunsOut(t *testing.T) {
	r := newRigWith(t, allowAll{}, func(c *Config) { c.TimerC = 400 * time.Millisecond })
	reinv, _ := r.carrierReinvite(t, "reinv-c", "reinvc")
	r.dialerRings(t, reinv)
	r.dialerIsCancelled(t, reinv, 2*time.Second)
}

// The sender's CANCEL of its re-INVITE reaches the other side, whose 487
// is the sender's answer (RFC 3261 §9.2, §16.10), as for a new call's
// INVITE: the other side is not left ringing, and then in a re-INVITE the
// sender has given up, until Timer C.
func TestACancelledReinviteIsCancelledOnTheOtherSide(t *testing.T) {
	r := newRig(t, allowAll{})
	reinv, cancel := r.carrierReinvite(t, "reinv-x", "reinvx")
	r.dialerRings(t, reinv)
	send(t, r.carrier, r.proxyAddr(), cancel)
	if ok := awaitNext(t, r.carrier, time.Second, "SIP/2.0 "); !strings.HasPrefix(ok, "SIP/2.0 200") || !strings.Contains(ok, "CSeq: 7 CANCEL") {
		t.Fatalf("the CANCEL got %q", firstLines([]string{ok}))
	}
	r.dialerIsCancelled(t, reinv, time.Second)
}

// A CANCEL of a re-INVITE that has had its 100 Trying but has not rung on
// the other side reaches that side once it rings (RFC 3261 §9.1).
func TestAReinviteCancelledBeforeItRangIsCancelledOnceItRings(t *testing.T) {
	r := newRig(t, allowAll{})
	reinv, cancel := r.carrierReinvite(t, "reinv-y", "reinvy")
	// A CANCEL waits for a provisional answer.
	awaitNext(t, r.carrier, time.Second, "SIP/2.0 100 ")
	send(t, r.carrier, r.proxyAddr(), cancel)
	for _, m := range recv(r.dialer, 200*time.Millisecond) {
		if strings.HasPrefix(m, "CANCEL ") {
			t.Fatal("a CANCEL reached the dialer before it rang")
		}
	}
	r.dialerAnswers(t, reinv, "180 Ringing")
	r.dialerIsCancelled(t, reinv, time.Second)
}

// A re-INVITE's CANCEL that sipgo takes (it came from another address than
// the re-INVITE) still cancels the other side, and a 2xx from that side
// that crossed it still reaches the sender (RFC 3261 §16.7: every 2xx to an
// INVITE goes on), though the sender has sipgo's 487: the sender ACKs it,
// and the call is not ended for a lost ACK.
func TestA2xxCrossingACancelSipgoTookReachesTheSender(t *testing.T) {
	r := newRig(t, allowAll{})
	reinv, cancel := r.carrierReinvite(t, "reinv-z", "reinvz")
	r.dialerRings(t, reinv)
	// From an address allowed to send, not the re-INVITE's, with its Via.
	elsewhere := freeUDP(t, "127.0.0.2")
	send(t, elsewhere, r.proxyAddr(), strings.ReplaceAll(cancel, "LOCAL", r.carrier.LocalAddr().String()))
	awaitNext(t, r.dialer, time.Second, "CANCEL ")
	r.dialerAnswers(t, reinv, "200 OK")
	for _, m := range recv(r.carrier, time.Second) {
		if strings.HasPrefix(m, "SIP/2.0 200") && strings.Contains(m, "CSeq: 7 INVITE") {
			return
		}
	}
	t.Error("the dialer's 200 to the re-INVITE never reached the carrier")
}
