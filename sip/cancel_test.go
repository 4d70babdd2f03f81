package sip

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
)

// The TCP cancel tap hands sipgo the stream it read, byte for byte, however
// TCP cut it: messages with bodies, keepalives between them, and a CANCEL
// for no INVITE in progress (sipgo answers that one).
func TestCancelTapKeepsTheStreamWhole(t *testing.T) {
	body := "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\n"
	stream := "INVITE sip:2025550143@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.2:5080;branch=z9hG4bK1\r\nl: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body +
		"\r\n\r\n" +
		"CANCEL sip:2025550143@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.2:5080;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nFrom: <sip:a@127.0.0.2>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: tap\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n" +
		"OPTIONS sip:127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n"
	for _, chunk := range []int{1, 7, 64, len(stream)} {
		client, server := net.Pipe()
		go func() {
			for s := stream; s != ""; {
				n := min(chunk, len(s))
				client.Write([]byte(s[:n]))
				s = s[n:]
			}
			client.Close()
		}()
		tap := &cancelTapConn{Conn: server, p: &Proxy{parser: newParser()}, buf: make([]byte, 64<<10)}
		got, err := io.ReadAll(tap)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != stream {
			t.Errorf("chunks of %d: sipgo got %q", chunk, strings.TrimSpace(string(got)))
		}
	}
}

// A CANCEL for an INVITE in progress is taken out of the TCP stream, however
// TCP cut it, and the INVITE's handler hears of it; the rest passes.
func TestCancelTapTakesTheCancelOutOfATCPStream(t *testing.T) {
	r := newRig(t, allowAll{})
	const via = "Via: SIP/2.0/TCP 127.0.0.2:5080;branch=z9hG4bKtap\r\n"
	invite := mustParse(t, "INVITE sip:2025550143@127.0.0.1 SIP/2.0\r\n"+via+"Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.2>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: tap\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
	invite.SetSource("127.0.0.2:5080")
	cancel := "CANCEL sip:2025550143@127.0.0.1 SIP/2.0\r\n" + via + "Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.2>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: tap\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n"
	options := "OPTIONS sip:127.0.0.1 SIP/2.0\r\nContent-Length: 4\r\n\r\nbody"
	for _, chunk := range []int{1, 5, len(cancel) + len(options)} {
		c := &inviteCall{}
		done := r.p.pending.add(invite, c)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
			conn, err := d.Dial("tcp", l.Addr().String())
			if err != nil {
				return
			}
			for s := cancel + options; s != ""; {
				n := min(chunk, len(s))
				conn.Write([]byte(s[:n]))
				s = s[n:]
			}
			conn.Close()
		}()
		server, err := l.Accept()
		l.Close()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(&cancelTapConn{Conn: server, p: r.p, buf: make([]byte, 64<<10)})
		server.Close()
		done()
		if string(got) != options {
			t.Errorf("chunks of %d: sipgo got %q, want only the OPTIONS", chunk, got)
		}
		if cancelled, _ := c.state(); !cancelled {
			t.Errorf("chunks of %d: the INVITE's handler did not hear of the CANCEL", chunk)
		}
	}
}
