package sip

import (
	"strings"
	"testing"
	"time"
)

// topViaOnly is msg with its Via lines after the first left out, as a
// carrier that keeps only the top Via of a request answers.
func topViaOnly(msg string) string {
	var kept []string
	seen := false
	for _, l := range strings.Split(msg, "\n") {
		if n, _, ok := strings.Cut(l, ":"); ok && (strings.EqualFold(n, "Via") || strings.EqualFold(n, "v")) {
			if seen {
				continue
			}
			seen = true
		}
		kept = append(kept, l)
	}
	return strings.Join(kept, "\n")
}

// A carrier's answer whose only Via is the proxy's was meant for the proxy
// and is not forwarded (RFC 3261 §16.7 step 3): the dialer never gets a
// response without a Via. A final error answer reaches it as the proxy's
// own 502 with its Via; the carrier's ringing is not relayed.
func TestAnswerWithOnlyOurViaIsNotForwarded(t *testing.T) {
	r := newRig(t, allowAll{})
	got := r.placeCall(t, invite("lostvia-486", "lv486"))
	send(t, r.carrier, r.proxyAddr(), topViaOnly(answer(got, "180 Ringing", "")))
	send(t, r.carrier, r.proxyAddr(), topViaOnly(answer(got, "486 Busy Here", "")))
	await(t, r.carrier, 500*time.Millisecond, "ACK ")
	msgs := answers(recv(r.dialer, 500*time.Millisecond))
	if len(msgs) == 0 || !allBadGateway(msgs) {
		t.Fatalf("the dialer got %q, want only the proxy's 502", firstLines(msgs))
	}
	if vias := headerValues(msgs[0], "Via", "v"); len(vias) != 1 || !strings.Contains(vias[0], "branch=z9hG4bKlv486") {
		t.Errorf("the dialer's 502 has Vias %q, want its own", vias)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.statuses) != 1 || r.statuses[0] != 502 {
		t.Errorf("recorded statuses %v, want [502]", r.statuses)
	}
}

// A 2xx whose only Via is the proxy's is not forwarded either: the dialer
// gets 502, and the carrier, which is in a call nobody else is, an ACK and
// a BYE.
func TestAnswered2xxWithOnlyOurViaHangsUpTheCarrier(t *testing.T) {
	r := newRig(t, allowAll{})
	got := r.placeCall(t, invite("lostvia-200", "lv200"))
	send(t, r.carrier, r.proxyAddr(), topViaOnly(answer(got, "200 OK", "Contact: <sip:127.0.0.1:"+strings.Split(r.carrier.LocalAddr().String(), ":")[1]+">\n")))
	if msgs := answers(recv(r.dialer, 500*time.Millisecond)); len(msgs) == 0 || !allBadGateway(msgs) {
		t.Fatalf("the dialer got %q, want only the proxy's 502", firstLines(msgs))
	}
	var carrier []string
	for _, m := range recv(r.carrier, 500*time.Millisecond) {
		carrier = append(carrier, strings.Fields(m)[0])
	}
	if len(carrier) < 2 || carrier[0] != "ACK" || carrier[1] != "BYE" {
		t.Errorf("the carrier got %q, want ACK then BYE", carrier)
	}
}

// A dialer that cancelled gets its 487 even when the carrier's crossing 2xx
// has no Via but ours: the CANCEL decided first, as with any 2xx after it.
func TestCancelled2xxWithOnlyOurViaGets487(t *testing.T) {
	r := newRig(t, allowAll{})
	inv := invite("lostvia-cancel", "lvc")
	got := r.ringThenCancel(t, inv)
	send(t, r.carrier, r.proxyAddr(), topViaOnly(answer(got, "200 OK", "")))
	var finals []string
	for _, l := range firstLines(recv(r.dialer, 500*time.Millisecond)) {
		if l != "SIP/2.0 200 OK" && l != "SIP/2.0 100 Trying" {
			finals = append(finals, l)
		}
	}
	if len(finals) == 0 || finals[0] != "SIP/2.0 487 Request Terminated" {
		t.Errorf("the dialer that cancelled got %q, want 487", finals)
	}
}

// The answer to an in-dialog request whose only Via is the proxy's is not
// forwarded: the dialer's BYE gets the proxy's 502 instead.
func TestInDialogAnswerWithOnlyOurViaIsNotForwarded(t *testing.T) {
	r := newRig(t, allowAll{})
	got := r.placeCall(t, invite("lostvia-bye", "lvbye"))
	send(t, r.carrier, r.proxyAddr(), answer(got, "200 OK", ""))
	await(t, r.dialer, time.Second, "SIP/2.0 200 OK")
	send(t, r.dialer, r.proxyAddr(), "BYE sip:2025550143@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKlvbye2\nMax-Forwards: 70\nFrom: <sip:2025550100@127.0.0.2>;tag=dt\nTo: <sip:2025550143@127.0.0.1>;tag=ct\nCall-ID: lostvia-bye\nCSeq: 2 BYE\nContent-Length: 0\n\n")
	send(t, r.carrier, r.proxyAddr(), topViaOnly(answer(await(t, r.carrier, time.Second, "BYE "), "200 OK", "")))
	if msgs := answers(recv(r.dialer, 500*time.Millisecond)); len(msgs) == 0 || !allBadGateway(msgs) {
		t.Fatalf("the dialer's BYE got %q, want only the proxy's 502", firstLines(msgs))
	}
}

// answers leaves out the proxy's 100 Trying from msgs.
func answers(msgs []string) []string {
	var out []string
	for _, m := range msgs {
		if !strings.HasPrefix(m, "SIP/2.0 100 ") {
			out = append(out, m)
		}
	}
	return out
}

// allBadGateway reports whether every message is a 502 (the proxy's, and
// its retransmissions over UDP until the dialer ACKs it).
func allBadGateway(msgs []string) bool {
	for _, m := range msgs {
		if !strings.HasPrefix(m, "SIP/2.0 502 Bad Gateway\r\n") {
			return false
		}
	}
	return true
}
