package sip

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// callDatagrams are the seven datagrams a proxy receives in a call as
// bench/run.sh makes it (INVITE, 100, 180, 200, ACK, BYE, 200), as SIPp's
// test/sipp/uac.xml and uas.xml send them: the dialer's from
// 127.0.0.1:5080, the carrier's from 127.0.0.1:5070, through a proxy on
// 127.0.0.1:5060 whose Record-Route carries a seal as long as the
// gatekeeper's for the dialer "bench" (routekey.go).
var callDatagrams = func() [][]byte {
	sdp := "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	withBody := func(head string) []byte {
		return []byte(strings.ReplaceAll(head, "\n", "\r\n") + "Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(sdp)) + "\r\n\r\n" + sdp)
	}
	noBody := func(head string) []byte {
		return []byte(strings.ReplaceAll(head, "\n", "\r\n") + "Content-Length: 0\r\n\r\n")
	}
	const callID = "Call-ID: 1-4242@127.0.0.1\n"
	const from = "From: <sip:2025550100@127.0.0.1:5080>;tag=4242SIPpTag001\n"
	const to = "To: <sip:2025550143@127.0.0.1:5060>"
	const dialerVia = "Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-4242-1-0\n"
	const ourVia = "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK.abcdefgh12345678\n"
	const route = "<sip:127.0.0.1:5060;lr;gk-dlg=YmVuY2gAMTI3LjAuMC4xOjUwODAAdWRwAHVkcFoTx4gB_kKdazDkF6JVyQ8>\n"
	const dialog = from + to + ";tag=4242SIPpTag011\n" + callID
	const answer = ourVia + dialerVia + from + to + ";tag=4242SIPpTag011\n" + callID + "CSeq: 1 INVITE\nRecord-Route: " + route + "Contact: <sip:127.0.0.1:5070;transport=UDP>\n"
	const inDialog = dialerVia + dialog + "Route: " + route
	return [][]byte{
		withBody("INVITE sip:2025550143@127.0.0.1:5060 SIP/2.0\n" + dialerVia + from + to + "\n" + callID + "CSeq: 1 INVITE\nContact: <sip:2025550100@127.0.0.1:5080;transport=UDP>\nMax-Forwards: 70\nX-Campaign-ID: bench\nSubject: uac.xml\n"),
		noBody("SIP/2.0 100 Trying\n" + ourVia + dialerVia + from + to + "\n" + callID + "CSeq: 1 INVITE\n"),
		noBody("SIP/2.0 180 Ringing\n" + answer),
		withBody("SIP/2.0 200 OK\n" + answer),
		noBody("ACK sip:127.0.0.1:5070;transport=UDP SIP/2.0\n" + inDialog + "CSeq: 1 ACK\nMax-Forwards: 70\n"),
		noBody("BYE sip:127.0.0.1:5070;transport=UDP SIP/2.0\n" + inDialog + "CSeq: 2 BYE\nMax-Forwards: 70\n"),
		noBody("SIP/2.0 200 OK\n" + ourVia + dialerVia + dialog + "CSeq: 2 BYE\n"),
	}
}()

// BenchmarkSipgoCallFloor is the least of sipgo's work a call asks of a
// proxy built on it, whatever the proxy does around it: parse the seven
// datagrams it receives, clone the three requests it forwards (INVITE, ACK,
// BYE), and serialise seven messages, as many as it sends (the carrier's
// 100 stands in for the proxy's own). One operation is one call; with -cpu
// 1 on an idle machine its ns/op is about the CPU time a call costs, less
// most of the collector's work for the bytes it allocates: the collector
// runs here over a heap of almost nothing, where a proxy's holds its calls.
// docs/benchmarks.md weighs it against Kamailio's CPU per call (issue 12's
// 0.5x target).
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
