package sip

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// sdpOf is a body of about n bytes.
func sdpOf(n int) string {
	var b strings.Builder
	b.WriteString("v=0\no=- 1 1 IN IP4 127.0.0.2\ns=-\nc=IN IP4 127.0.0.2\nt=0 0\nm=audio 4000 RTP/AVP 0\n")
	for b.Len() < n {
		b.WriteString("a=candidate:1 1 UDP 2130706431 127.0.0.2 4000 typ host\n")
	}
	return b.String()
}

// A 2 KB INVITE from a UDP dialer reaches the carrier; this proxy has no TCP
// listener, so it stays on UDP (RFC 3261 §18.1.1 cannot apply).
func TestLargeInviteIsForwarded(t *testing.T) {
	r := newRig(t, allowAll{})
	body := sdpOf(2000)
	inv := strings.Replace(invite("big-1", "big1"), "Content-Length: 0\n\n", "Content-Type: application/sdp\nContent-Length: "+strconv.Itoa(len(strings.ReplaceAll(body, "\n", "\r\n")))+"\n\n"+body, 1)
	send(t, r.dialer, r.proxyAddr(), inv)
	got := recvFirst(r.carrier, time.Second)
	if len(got) == 0 || !strings.HasPrefix(got[0], "INVITE ") || len(got[0]) < 2000 {
		t.Fatalf("the carrier did not get the large INVITE; dialer got %q", firstLines(recv(r.dialer, 200*time.Millisecond)))
	}
}

// A carrier's 200 with a 2 KB SDP reaches a UDP dialer: an answer goes back
// over the transport its request came on, whatever its size (§18.2.2).
func TestLargeAnswerReachesAUDPDialer(t *testing.T) {
	r := newRig(t, allowAll{})
	got := r.placeCall(t, invite("big-2", "big2"))
	body := strings.ReplaceAll(sdpOf(2000), "\n", "\r\n")
	ok := strings.Replace(answer(got, "200 OK", "Contact: <sip:"+r.carrier.LocalAddr().String()+">\nContent-Type: application/sdp\n"), "Content-Length: 0\n\n", "Content-Length: "+strconv.Itoa(len(body))+"\n\n", 1)
	send(t, r.carrier, r.proxyAddr(), ok+body)
	await(t, r.dialer, 500*time.Millisecond, "SIP/2.0 200 OK")
}
