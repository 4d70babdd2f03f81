package sip

import (
	"fmt"
	"testing"
	"time"
)

// A stranger's 2xx with our Via and no Call-ID.
func TestStray2xxWithoutCallIDIsDropped(t *testing.T) {
	r := newRig(t, allowAll{})
	stranger := freeUDP(t, "127.0.0.3")
	send(t, stranger, r.proxyAddr(), fmt.Sprintf("SIP/2.0 200 OK\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKnope\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>;tag=2\nCSeq: 1 INVITE\nContent-Length: 0\n\n", r.port))
	time.Sleep(500 * time.Millisecond)
	t.Log("proxy survived")
}
