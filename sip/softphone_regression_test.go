package sip

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// What a real softphone (baresip) showed through the gatekeeper, checked at
// the SIP level.

// An INVITE with rport in its Via reaches the carrier with both rport=PORT
// and received=IP filled in, even when the sent-by host is the source
// address (RFC 3581 §4).
func TestForwardedViaWithRportCarriesReceived(t *testing.T) {
	r := newRig(t, allowAll{})
	inv := strings.Replace(invite("rport-1", "rport1"), ";branch=", ";rport;branch=", 1)
	got := r.placeCall(t, inv)
	vias := headerValues(got, "Via", "v")
	if len(vias) != 2 {
		t.Fatalf("want our Via and the dialer's, got %q", vias)
	}
	_, port, _ := strings.Cut(r.dialer.LocalAddr().String(), ":")
	for _, want := range []string{";rport=" + port, ";received=127.0.0.2"} {
		if !strings.Contains(vias[1], want) {
			t.Errorf("the dialer's Via %q lacks %s", vias[1], want)
		}
	}
}

// headerValues lists the values of every header line of msg with one of names
// (a full and a compact name).
func headerValues(msg string, names ...string) []string {
	var out []string
	for _, l := range strings.Split(msg, "\r\n") {
		n, v, ok := strings.Cut(l, ":")
		if ok && slices.ContainsFunc(names, func(name string) bool { return strings.EqualFold(strings.TrimSpace(n), name) }) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// The ACK the proxy sends for a carrier's error answer (here 486; a 487
// after a CANCEL is the same) has one Via, the INVITE's top one (RFC 3261
// §17.1.1.3), while the INVITE carries the dialer's Via too, in full form:
// a carrier that copies the lines named Via into its answers (SIPp's
// [last_Via:]) copies both.
func TestAckForAnErrorAnswerHasOneVia(t *testing.T) {
	r := newRig(t, allowAll{})
	got := r.placeCall(t, invite("ack-486", "ack486"))
	inviteVias := headerValues(got, "Via", "v")
	if len(inviteVias) != 2 || len(headerValues(got, "Contact", "m")) != 1 {
		t.Fatalf("the forwarded INVITE lost its Vias or Contact:\n%s", got)
	}
	if full := headerValues(got, "Via"); len(full) != 2 {
		t.Errorf("the forwarded INVITE has %d lines named Via, want 2 (no compact v:):\n%s", len(full), got)
	}
	send(t, r.carrier, r.proxyAddr(), answer(got, "486 Busy Here", ""))
	ack := await(t, r.carrier, 500*time.Millisecond, "ACK ")
	if vias := headerValues(ack, "Via", "v"); len(vias) != 1 || vias[0] != inviteVias[0] {
		t.Errorf("the ACK's Vias are %q, want only the INVITE's top one %q", vias, inviteVias[0])
	}
	if d := firstLines(recv(r.dialer, 300*time.Millisecond)); !strings.Contains(strings.Join(d, "|"), "486 Busy Here") {
		t.Errorf("the dialer did not get the 486: %q", d)
	}
}

// A dialer that cancels a ringing call gets the carrier's 487, To tag and
// all, not one the proxy made up (RFC 3261 §16.7: the best answer received
// is forwarded; §16.10: the proxy answers the CANCEL itself with 200).
func TestCancelledCallGetsTheCarriers487(t *testing.T) {
	r := newRig(t, allowAll{})
	inv := invite("cancel-487", "c487")
	got := r.placeCall(t, inv)
	send(t, r.carrier, r.proxyAddr(), answer(got, "180 Ringing", ""))
	if d := firstLines(recv(r.dialer, 300*time.Millisecond)); !strings.Contains(strings.Join(d, "|"), "180 Ringing") {
		t.Fatalf("the dialer did not hear it ring: %q", d)
	}
	cancel := cancelText(inv)
	send(t, r.dialer, r.proxyAddr(), cancel)
	carrierCancel := await(t, r.carrier, 300*time.Millisecond, "CANCEL ")
	if d := firstLines(recv(r.dialer, 300*time.Millisecond)); strings.Join(d, "|") != "SIP/2.0 200 OK" {
		t.Fatalf("the dialer's CANCEL got %q, want only its 200 (no 487 before the carrier's)", d)
	}
	send(t, r.carrier, r.proxyAddr(), answer(carrierCancel, "200 OK", ""))
	send(t, r.carrier, r.proxyAddr(), answer(got, "487 Request Terminated", ""))
	final := await(t, r.dialer, 500*time.Millisecond, "SIP/2.0 487 ")
	if to := headerValues(final, "To"); len(to) != 1 || !strings.HasSuffix(to[0], ";tag=ct") {
		t.Errorf("the dialer's 487 has To %q, want the carrier's tag ct", to)
	}
}
