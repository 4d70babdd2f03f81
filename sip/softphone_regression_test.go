package sip

import (
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
	send(t, r.dialer, r.proxyAddr(), inv)
	got := recvFirst(r.carrier, time.Second)
	if len(got) == 0 {
		t.Fatal("the carrier got no INVITE")
	}
	vias := headerValues(got[0], "Via")
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

// headerValues lists the values of every header line named name in msg.
func headerValues(msg, name string) []string {
	var out []string
	for _, l := range strings.Split(msg, "\r\n") {
		n, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(strings.TrimSpace(n), name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}
