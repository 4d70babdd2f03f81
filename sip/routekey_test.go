package sip

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sealedRoute is the Route a dialer builds from the proxy's Record-Route in
// the carrier's copy of the INVITE.
func sealedRoute(t *testing.T, carrierInvite string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^Record-Route: (<[^>]*` + routeParam + `=[^>]*>)\r$`).FindStringSubmatch(carrierInvite)
	if m == nil {
		t.Fatalf("no sealed Record-Route in:\n%s", carrierInvite)
	}
	return m[1]
}

func bye(route, callID, fromTag, toTag, branch string) string {
	return fmt.Sprintf("BYE sip:x@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bK%s\nRoute: %s\nMax-Forwards: 70\nFrom: <sip:a@b>;tag=%s\nTo: <sip:c@d>;tag=%s\nCall-ID: %s\nCSeq: 2 BYE\nContent-Length: 0\n\n",
		branch, route, fromTag, toTag, callID)
}

// forget empties the dialog table, as a restart does.
func (r *rig) forget() { r.p.dialogs.takeAll() }

// A call set up before the dialog table was lost is hung up from either
// side: its Route carries the dialog's sides, sealed.
func TestSealedRouteRoutesAfterTheDialogTableIsLost(t *testing.T) {
	for _, from := range []string{"dialer", "carrier"} {
		t.Run(from, func(t *testing.T) {
			r := newRig(t, allowAll{})
			route := sealedRoute(t, establish(t, r, "lost-"+from))
			r.forget()
			src, dst, fromTag, toTag := r.dialer, r.carrier, "dt", "ct"
			if from == "carrier" {
				src, dst, fromTag, toTag = r.carrier, r.dialer, "ct", "dt"
			}
			send(t, src, r.proxyAddr(), bye(route, "lost-"+from, fromTag, toTag, "b1"))
			got := await(t, dst, time.Second, "BYE ")
			send(t, dst, r.proxyAddr(), answer(got, "200 OK", ""))
			if res := await(t, src, time.Second, "SIP/2.0 "); !strings.HasPrefix(res, "SIP/2.0 200") {
				t.Errorf("%s's BYE got %q", from, firstLines([]string{res}))
			}
			if r.p.dialogs.len() != 0 {
				t.Errorf("the recovered dialog stays after its BYE")
			}
		})
	}
}

// A seal that does not verify routes nothing: a changed byte, another
// call's seal, a seal under another key.
func TestForgedSealRoutesNothing(t *testing.T) {
	r := newRig(t, allowAll{})
	route := sealedRoute(t, establish(t, r, "real"))
	other := newRig(t, allowAll{})
	foreign := sealedRoute(t, establish(t, other, "real"))
	r.forget()
	value := regexp.MustCompile(routeParam + `=([^;>]*)`).FindStringSubmatch(route)[1]
	flipped := []byte(value)
	flipped[3] ^= 1
	if flipped[3] == value[3] || !regexp.MustCompile(`^[A-Za-z0-9_-]$`).Match(flipped[3:4]) {
		flipped[3] = 'A' + (value[3]+1)%26
	}
	cases := map[string]string{
		"changed":     strings.Replace(route, value, string(flipped), 1),
		"other call":  route, // sealed for Call-ID real, sent for Call-ID forged
		"foreign key": strings.Replace(foreign, fmt.Sprint(other.port), fmt.Sprint(r.port), 1),
	}
	for name, rt := range cases {
		callID := "real"
		if name == "other call" {
			callID = "forged"
		}
		send(t, r.dialer, r.proxyAddr(), bye(rt, callID, "dt", "ct", "f"+strings.ReplaceAll(name, " ", "")))
		if res := await(t, r.dialer, time.Second, "SIP/2.0 "); !strings.HasPrefix(res, "SIP/2.0 481") {
			t.Errorf("%s: the BYE got %q, want 481", name, firstLines([]string{res}))
		}
		// The carrier's side with a forged seal: the proxy would send its BYE to the sealed dialer address.
		send(t, r.carrier, r.proxyAddr(), bye(rt, callID, "ct", "dt", "c"+strings.ReplaceAll(name, " ", "")))
		if res := await(t, r.carrier, time.Second, "SIP/2.0 "); !strings.HasPrefix(res, "SIP/2.0 481") {
			t.Errorf("%s: the carrier's BYE got %q, want 481", name, firstLines([]string{res}))
		}
	}
	for _, m := range append(recv(r.carrier, 200*time.Millisecond), recv(r.dialer, 200*time.Millisecond)...) {
		if strings.HasPrefix(m, "BYE") {
			t.Errorf("a BYE with a forged seal was forwarded:\n%s", m)
		}
	}
	// A stranger with the real seal is refused as before.
	stranger := freeUDP(t, "127.0.0.3")
	send(t, stranger, r.proxyAddr(), bye(route, "real", "dt", "ct", "s1"))
	if res := await(t, stranger, time.Second, "SIP/2.0 "); !strings.HasPrefix(res, "SIP/2.0 403") {
		t.Errorf("a stranger's BYE got %q, want 403", firstLines([]string{res}))
	}
	if r.p.dialogs.len() != 0 {
		t.Errorf("%d dialogs recovered from forged seals", r.p.dialogs.len())
	}
}

// The seal's cost per call: one HMAC-SHA256 to seal at the INVITE, and one or
// two to open after a restart.
func BenchmarkSeal(b *testing.B) {
	p := &Proxy{cfg: Config{RouteKey: NewRouteKey()}}
	s := sides{dialer: "predictive", dialerAddr: "127.0.0.2:5080", dialerTransport: "udp", carrierTransport: "udp"}
	for b.Loop() {
		if _, ok := p.unseal(p.seal("a84b4c76e66710@pc33.example.com", "1928301774", s), "a84b4c76e66710@pc33.example.com", "1928301774"); !ok {
			b.Fatal("the seal does not open")
		}
	}
}

// A call the carrier answers after the gatekeeper restarted reaches the
// dialer, whose ACK and BYE then reach the carrier: the 200's Record-Route
// carries the seal, so the carrier is not left in a call nobody is on.
func TestCallAnsweredAcrossARestartReachesTheDialer(t *testing.T) {
	r := newRig(t, allowAll{})
	send(t, r.dialer, r.proxyAddr(), invite("across", "across1"))
	got := recvCall(r.carrier, "across", time.Second)
	if len(got) == 0 {
		t.Fatal("the carrier got no INVITE")
	}
	r.restart()
	send(t, r.carrier, r.proxyAddr(), answer(got[0], "200 OK", "Contact: <sip:"+r.carrier.LocalAddr().String()+">\n"))
	ok := await(t, r.dialer, time.Second, "SIP/2.0 200 OK")
	route := sealedRoute(t, strings.ReplaceAll(ok, "\r\n", "\r\n"))
	send(t, r.dialer, r.proxyAddr(), strings.Replace(strings.Replace(bye(route, "across", "dt", "ct", "ack1"), "BYE sip", "ACK sip", 1), "2 BYE", "1 ACK", 1))
	await(t, r.carrier, time.Second, "ACK ")
	send(t, r.dialer, r.proxyAddr(), bye(route, "across", "dt", "ct", "bye1"))
	b := await(t, r.carrier, time.Second, "BYE ")
	send(t, r.carrier, r.proxyAddr(), answer(b, "200 OK", ""))
	if res := await(t, r.dialer, time.Second, "SIP/2.0 "); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Errorf("the BYE got %q", firstLines([]string{res}))
	}
}

// A 2xx the carrier sends again after the call ended (its ACK lost, or a
// 2xx that crossed the dialer's CANCEL and was hung up) belongs to an
// INVITE this process forwarded and ended: it must not bring the dialog
// back from its seal, as a 2xx that comes across a restart does, nor
// reach the dialer, whose call is over.
func TestA2xxAfterTheCallEndedDoesNotBringItBack(t *testing.T) {
	r := newRig(t, allowAll{})
	got := r.placeCall(t, invite("after", "after1"))
	ok := answer(got, "200 OK", "Contact: <sip:"+r.carrier.LocalAddr().String()+">\n")
	send(t, r.carrier, r.proxyAddr(), ok)
	route := sealedRoute(t, awaitNext(t, r.dialer, time.Second, "SIP/2.0 200 OK"))
	send(t, r.dialer, r.proxyAddr(), strings.Replace(strings.Replace(bye(route, "after", "dt", "ct", "ack1"), "BYE sip", "ACK sip", 1), "2 BYE", "1 ACK", 1))
	awaitNext(t, r.carrier, time.Second, "ACK ")
	send(t, r.dialer, r.proxyAddr(), bye(route, "after", "dt", "ct", "bye1"))
	send(t, r.carrier, r.proxyAddr(), answer(awaitNext(t, r.carrier, time.Second, "BYE "), "200 OK", ""))
	awaitNext(t, r.dialer, time.Second, "SIP/2.0 200 OK")
	for _, wait := range []time.Duration{0, 700 * time.Millisecond} { // in and after the INVITE transaction's linger
		time.Sleep(wait)
		send(t, r.carrier, r.proxyAddr(), ok)
		for _, m := range recv(r.dialer, 300*time.Millisecond) {
			if strings.HasPrefix(m, "SIP/2.0 200") && strings.Contains(m, "CSeq: 1 INVITE") {
				t.Fatalf("the dialer got the INVITE's 200 again %v after its call ended", wait)
			}
		}
	}
	if n := r.p.dialogs.len(); n != 0 {
		t.Errorf("%d dialogs after the call ended", n)
	}
}

// A 2xx the carrier sends again for a call answered across a restart
// reaches the dialer again: the dialog rebuilt from the seal has no INVITE
// of this process waiting for its first 2xx (a lost 200 is sent again
// until the dialer's ACK comes, RFC 3261 §13.3.1.4).
func TestA2xxSentAgainAcrossARestartReachesTheDialerAgain(t *testing.T) {
	r := newRig(t, allowAll{})
	got := r.placeCall(t, invite("again", "again1"))
	r.restart()
	ok := answer(got, "200 OK", "Contact: <sip:"+r.carrier.LocalAddr().String()+">\n")
	for range 2 {
		send(t, r.carrier, r.proxyAddr(), ok)
		awaitNext(t, r.dialer, time.Second, "SIP/2.0 200 ")
	}
}
