package sip

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// callDatagrams are the seven datagrams a proxy receives in a call as
// bench/run.sh makes it (INVITE, 100, 180, 200, ACK, BYE, 200), as SIPp's
// test/sipp scenarios send them: the dialer's from 127.0.0.1:5080, the
// carrier's from 127.0.0.1:5070, through a proxy on 127.0.0.1:5060.
var callDatagrams = func() [][]byte {
	sdp := "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	withBody := func(head string) []byte {
		return []byte(strings.ReplaceAll(head, "\n", "\r\n") + "Content-Type: application/sdp\r\nContent-Length: " + itoa(len(sdp)) + "\r\n\r\n" + sdp)
	}
	noBody := func(head string) []byte {
		return []byte(strings.ReplaceAll(head, "\n", "\r\n") + "Content-Length: 0\r\n\r\n")
	}
	const callID = "1-4242@127.0.0.1"
	const dialerVia = "Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-4242-1-0\n"
	const ourVia = "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK.gk.abcdefgh12345678\n"
	const rr = "Record-Route: <sip:127.0.0.1:5060;lr;gk=dGhpcyBpcyBhIHNlYWwgb2YgYSByb3V0ZQ>\n"
	const dialog = "From: \"dialer\" <sip:2025550100@127.0.0.1:5080>;tag=4242SIPpTag001\nTo: <sip:2025550143@127.0.0.1:5060>;tag=4242SIPpTag011\nCall-ID: " + callID + "\n"
	return [][]byte{
		withBody("INVITE sip:2025550143@127.0.0.1:5060 SIP/2.0\n" + dialerVia + "From: \"dialer\" <sip:2025550100@127.0.0.1:5080>;tag=4242SIPpTag001\nTo: <sip:2025550143@127.0.0.1:5060>\nCall-ID: " + callID + "\nCSeq: 1 INVITE\nContact: sip:dialer@127.0.0.1:5080\nMax-Forwards: 70\nSubject: Performance Test\nX-Campaign: bench\n"),
		noBody("SIP/2.0 100 Trying\n" + ourVia + dialerVia + "From: \"dialer\" <sip:2025550100@127.0.0.1:5080>;tag=4242SIPpTag001\nTo: <sip:2025550143@127.0.0.1:5060>\nCall-ID: " + callID + "\nCSeq: 1 INVITE\n"),
		noBody("SIP/2.0 180 Ringing\n" + ourVia + dialerVia + rr + dialog + "CSeq: 1 INVITE\nContact: <sip:127.0.0.1:5070;transport=UDP>\n"),
		withBody("SIP/2.0 200 OK\n" + ourVia + dialerVia + rr + dialog + "CSeq: 1 INVITE\nContact: <sip:127.0.0.1:5070;transport=UDP>\n"),
		noBody("ACK sip:127.0.0.1:5070;transport=UDP SIP/2.0\n" + dialerVia + "Route: <sip:127.0.0.1:5060;lr;gk=dGhpcyBpcyBhIHNlYWwgb2YgYSByb3V0ZQ>\n" + dialog + "CSeq: 1 ACK\nContact: sip:dialer@127.0.0.1:5080\nMax-Forwards: 70\n"),
		noBody("BYE sip:127.0.0.1:5070;transport=UDP SIP/2.0\n" + dialerVia + "Route: <sip:127.0.0.1:5060;lr;gk=dGhpcyBpcyBhIHNlYWwgb2YgYSByb3V0ZQ>\n" + dialog + "CSeq: 2 BYE\nContact: sip:dialer@127.0.0.1:5080\nMax-Forwards: 70\n"),
		noBody("SIP/2.0 200 OK\n" + ourVia + dialerVia + dialog + "CSeq: 2 BYE\n"),
	}
}()

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// BenchmarkSipgoCallFloor is the least of sipgo's work a call asks of a
// proxy built on it, whatever the proxy does around it: parse the seven
// datagrams it receives, clone the three requests it forwards (INVITE, ACK,
// BYE), and serialise the seven it sends. One operation is one call; with
// -cpu 1 its ns/op is the CPU time, the collector's share of the bytes it
// allocates aside. docs/benchmarks.md weighs it against Kamailio's CPU per
// call (issue 12's 0.5x target).
func BenchmarkSipgoCallFloor(b *testing.B) {
	parser := newParser()
	var out bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		for _, d := range callDatagrams {
			msg, err := parser.ParseSIP(d)
			if err != nil {
				b.Fatal(err)
			}
			if req, ok := msg.(*sip.Request); ok {
				msg = req.Clone()
			}
			out.Reset()
			msg.StringWrite(&out)
		}
	}
}
