package sip

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/gatekeeper-sip/gatekeeper/media"
)

// withSDP puts an SDP body on a message built with Content-Length: 0.
func withSDP(msg, sdp string) string {
	sdp = strings.ReplaceAll(sdp, "\n", "\r\n")
	return strings.Replace(msg, "Content-Length: 0\n\n", "Content-Type: application/sdp\nContent-Length: "+strconv.Itoa(len(sdp))+"\n\n"+sdp, 1)
}

func phoneSDP(c net.PacketConn) string {
	a := c.LocalAddr().(*net.UDPAddr)
	return fmt.Sprintf("v=0\no=- 1 1 IN IP4 %s\ns=-\nc=IN IP4 %s\nt=0 0\nm=audio %d RTP/AVP 0\na=rtpmap:0 PCMU/8000\n", a.IP, a.IP, a.Port)
}

var sdpMedia = regexp.MustCompile(`\r\nc=IN IP4 ([0-9.]+)\r\n[^m]*m=audio (\d+) `)

// mediaAddr is the address and port the SDP of a SIP message names.
func mediaAddr(t *testing.T, msg string) netip.AddrPort {
	t.Helper()
	m := sdpMedia.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("no c= and m=audio in:\n%s", msg)
	}
	p, _ := strconv.Atoi(m[2])
	return netip.AddrPortFrom(netip.MustParseAddr(m[1]), uint16(p))
}

// okTo answers a request with 200, copying its headers as they are.
func okTo(req string) string {
	var b strings.Builder
	b.WriteString("SIP/2.0 200 OK\n")
	for _, l := range strings.Split(req, "\r\n") {
		low := strings.ToLower(l)
		for _, h := range []string{"via:", "v:", "from:", "to:", "call-id:", "cseq:"} {
			if strings.HasPrefix(low, h) {
				b.WriteString(l + "\n")
			}
		}
	}
	b.WriteString("Content-Length: 0\n\n")
	return b.String()
}

func newMediaRelay(t *testing.T) *media.Relay {
	r, err := media.New(media.Config{Address: netip.MustParseAddr("127.0.0.1"), PortLow: 41200, PortHigh: 41239})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// An anchored call: each side's SDP names the relay, RTP goes through it
// both ways, and the BYE frees its ports.
func TestAnchoredCallMediaGoesThroughTheRelay(t *testing.T) {
	relay := newMediaRelay(t)
	r := newRigWith(t, allowAll{}, func(c *Config) {
		c.Media, c.MediaChoice = relay, MediaChoice{Default: true}
	})
	dialerRTP, carrierRTP := freeUDP(t, "127.0.0.2"), freeUDP(t, "127.0.0.1")

	inv := r.placeCall(t, withSDP(invite("media-1", "m1"), phoneSDP(dialerRTP)))
	toCarrierSide := mediaAddr(t, inv)
	if toCarrierSide.Addr().String() != "127.0.0.1" || toCarrierSide.Port() < 41200 || toCarrierSide.Port() > 41239 {
		t.Fatalf("the carrier was offered media at %v, want the relay's 127.0.0.1:41200-41239", toCarrierSide)
	}
	ok := withSDP(answer(inv, "200 OK", "Contact: <sip:"+r.carrier.LocalAddr().String()+">\n"), phoneSDP(carrierRTP))
	send(t, r.carrier, r.proxyAddr(), ok)
	got := await(t, r.dialer, time.Second, "SIP/2.0 200 OK")
	toDialerSide := mediaAddr(t, got)
	if toDialerSide.Addr().String() != "127.0.0.1" || toDialerSide.Port() < 41200 || toDialerSide.Port() > 41239 || toDialerSide == toCarrierSide {
		t.Fatalf("the dialer was answered with media at %v, want another port of the relay", toDialerSide)
	}

	rtpPacket := []byte{0x80, 0, 0, 1, 0, 0, 0, 160, 0xca, 0xfe, 0xba, 0xbe, 0xff, 0xfe, 0xfd}
	buf := make([]byte, 100)
	for _, leg := range []struct {
		from, to net.PacketConn
		via      netip.AddrPort
	}{{dialerRTP, carrierRTP, toDialerSide}, {carrierRTP, dialerRTP, toCarrierSide}} {
		if _, err := leg.from.WriteTo(rtpPacket, net.UDPAddrFromAddrPort(leg.via)); err != nil {
			t.Fatal(err)
		}
		leg.to.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := leg.to.ReadFrom(buf)
		if err != nil || string(buf[:n]) != string(rtpPacket) {
			t.Fatalf("RTP sent to the relay at %v arrived as %x (%v)", leg.via, buf[:n], err)
		}
	}

	// The carrier puts the call on hold with a re-INVITE (c=0.0.0.0): the
	// dialer sees the hold on the same relay port, its answer reaches the
	// carrier anchored, and nothing is sent to the held carrier.
	hold := strings.Replace(phoneSDP(carrierRTP), "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", 1) + "a=sendonly\n"
	reinvite := "INVITE sip:2025550100@" + r.dialer.LocalAddr().String() + " SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKmr1\nMax-Forwards: 70\nFrom: <sip:2025550143@127.0.0.1>;tag=ct\nTo: <sip:2025550100@127.0.0.2>;tag=dt\nCall-ID: media-1\nCSeq: 1 INVITE\nContact: <sip:LOCAL>\nContent-Length: 0\n\n"
	send(t, r.carrier, r.proxyAddr(), withSDP(reinvite, hold))
	got = await(t, r.dialer, time.Second, "INVITE ")
	if !strings.Contains(got, "\r\nc=IN IP4 0.0.0.0\r\n") || !strings.Contains(got, "\r\na=sendonly\r\n") || mediaAddr(t, got).Port() != toDialerSide.Port() {
		t.Fatalf("the dialer got the hold as:\n%s", got)
	}
	send(t, r.dialer, r.proxyAddr(), withSDP(strings.Replace(okTo(got), "SIP/2.0 200 OK\n", "SIP/2.0 200 OK\nContact: <sip:LOCAL>\n", 1), phoneSDP(dialerRTP)))
	if got := await(t, r.carrier, time.Second, "SIP/2.0 200 OK"); mediaAddr(t, got) != toCarrierSide {
		t.Fatalf("the carrier got the answer to its hold with media at %v, want the relay's %v", mediaAddr(t, got), toCarrierSide)
	}
	if _, err := dialerRTP.WriteTo(rtpPacket, net.UDPAddrFromAddrPort(toDialerSide)); err != nil {
		t.Fatal(err)
	}
	carrierRTP.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := carrierRTP.ReadFrom(buf); err == nil {
		t.Fatalf("the held carrier got %x", buf[:n])
	}

	bye := "BYE sip:2025550143@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKmb1\nMax-Forwards: 70\nFrom: <sip:2025550100@127.0.0.2>;tag=dt\nTo: <sip:2025550143@127.0.0.1>;tag=ct\nCall-ID: media-1\nCSeq: 2 BYE\nContent-Length: 0\n\n"
	send(t, r.dialer, r.proxyAddr(), bye)
	send(t, r.carrier, r.proxyAddr(), okTo(await(t, r.carrier, time.Second, "BYE ")))
	await(t, r.dialer, time.Second, "SIP/2.0 200 OK")
	if s := relay.Stats(); s.Sessions != 0 || s.PortsInUse != 0 || s.Packets != 2 || s.Dropped != 1 {
		t.Fatalf("relay after the BYE: %+v, want no session, no port, 2 packets relayed, the one to the held carrier dropped", s)
	}
}

// A dialer that anchors no media: its SDP reaches the carrier as it was sent.
func TestUnanchoredDialerKeepsItsSDP(t *testing.T) {
	relay := newMediaRelay(t)
	r := newRigWith(t, allowAll{}, func(c *Config) {
		c.Media, c.MediaChoice = relay, MediaChoice{Default: true, Dialers: map[string]bool{"d": false}}
	})
	dialerRTP := freeUDP(t, "127.0.0.2")
	inv := r.placeCall(t, withSDP(invite("media-2", "m2"), phoneSDP(dialerRTP)))
	if got, want := mediaAddr(t, inv), dialerRTP.LocalAddr().(*net.UDPAddr).AddrPort(); got != want {
		t.Fatalf("the carrier was offered media at %v, want the dialer's own %v", got, want)
	}
	if s := relay.Stats(); s.Sessions != 0 {
		t.Fatalf("an unanchored call opened %d relay sessions", s.Sessions)
	}
}

func TestMediaChoice(t *testing.T) {
	m := MediaChoice{Default: false, Dialers: map[string]bool{"vici": true}, Campaigns: map[string]bool{"spring": false}}
	for _, c := range []struct {
		dialer, campaign string
		want             bool
	}{{"other", "", false}, {"vici", "", true}, {"vici", "spring", false}, {"vici", "fall", true}} {
		call := CallEnd{}.Call
		call.Campaign = c.campaign
		if got := m.anchors(c.dialer, call); got != c.want {
			t.Errorf("dialer %q campaign %q: anchors %v, want %v", c.dialer, c.campaign, got, c.want)
		}
	}
}

// An anchored call: the relay learns the answer and the dialer's agent
// signal (a header on an INFO, relayed on as it came), and the call's end
// carries the relay's verdict with both.
func TestAgentSignalAndVerdictReachTheCallEnd(t *testing.T) {
	relay := newMediaRelay(t)
	r := newRigWith(t, allowAll{}, func(c *Config) {
		c.Media, c.MediaChoice = relay, MediaChoice{Default: true}
		c.Dialers[0].AgentSignal = &AgentSignal{Header: "X-Agent-Connected"}
	})
	dialerRTP, carrierRTP := freeUDP(t, "127.0.0.2"), freeUDP(t, "127.0.0.1")
	inv := r.placeCall(t, withSDP(strings.Replace(invite("media-3", "m3"), "Call-ID:", "X-Campaign-ID: spring\nCall-ID:", 1), phoneSDP(dialerRTP)))
	send(t, r.carrier, r.proxyAddr(), withSDP(answer(inv, "200 OK", "Contact: <sip:"+r.carrier.LocalAddr().String()+">\n"), phoneSDP(carrierRTP)))
	awaitNext(t, r.dialer, time.Second, "SIP/2.0 200 OK")

	info := func(cseq int, extra string) string {
		t.Helper()
		msg := fmt.Sprintf("INFO sip:2025550143@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKmi%d\nMax-Forwards: 70\nFrom: <sip:2025550100@127.0.0.2>;tag=dt\nTo: <sip:2025550143@127.0.0.1>;tag=ct\nCall-ID: media-3\nCSeq: %d INFO\n%sContent-Length: 0\n\n", cseq, cseq, extra)
		send(t, r.dialer, r.proxyAddr(), msg)
		got := awaitNext(t, r.carrier, time.Second, "INFO ")
		send(t, r.carrier, r.proxyAddr(), okTo(got))
		awaitNext(t, r.dialer, time.Second, "SIP/2.0 200 OK")
		return got
	}
	info(2, "") // an INFO without the header is no signal
	signalled := time.Now()
	if got := info(3, "X-Agent-Connected: yes\n"); !strings.Contains(got, "\r\nX-Agent-Connected: yes\r\n") {
		t.Fatalf("the carrier got the signal's INFO without its header:\n%s", got)
	}
	info(4, "X-Agent-Connected: again\n") // only the first signal counts

	send(t, r.dialer, r.proxyAddr(), "BYE sip:2025550143@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKmb3\nMax-Forwards: 70\nFrom: <sip:2025550100@127.0.0.2>;tag=dt\nTo: <sip:2025550143@127.0.0.1>;tag=ct\nCall-ID: media-3\nCSeq: 5 BYE\nContent-Length: 0\n\n")
	send(t, r.carrier, r.proxyAddr(), okTo(awaitNext(t, r.carrier, time.Second, "BYE ")))
	awaitNext(t, r.dialer, time.Second, "SIP/2.0 200 OK")
	// The BYE's answer goes to the dialer before the call's end is reported.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		r.mu.Lock()
		n := len(r.ends)
		r.mu.Unlock()
		if n > 0 {
			break
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ends) != 1 || r.ends[0].Media == nil {
		t.Fatalf("ends %+v; want one with the relay's verdict", r.ends)
	}
	e := r.ends[0]
	if v := e.Media; !v.Answered.Equal(e.Answered) || v.AgentSignal.Before(signalled) || v.AgentSignal.After(e.Ended) {
		t.Errorf("verdict %+v; want the answer at %v and the signal of the second INFO, after %v", v, e.Answered, signalled)
	}
}

func TestAgentSignalIn(t *testing.T) {
	byHeader := &AgentSignal{Header: "X-Agent-Connected"}
	byInfo := &AgentSignal{ContentType: "application/x-agent-state", Body: "connected"}
	request := func(method sip.RequestMethod, headers map[string]string, body string) *sip.Request {
		req := sip.NewRequest(method, sip.Uri{User: "2025550143", Host: "127.0.0.1"})
		for name, value := range headers {
			req.AppendHeader(sip.NewHeader(name, value))
		}
		req.SetBody([]byte(body))
		return req
	}
	for _, tc := range []struct {
		signal *AgentSignal
		req    *sip.Request
		want   bool
	}{
		{byHeader, request(sip.INFO, map[string]string{"x-agent-connected": "1"}, ""), true}, // header names are case-insensitive
		{byHeader, request(sip.INVITE, map[string]string{"X-Agent-Connected": "1"}, ""), true},
		{byHeader, request(sip.UPDATE, map[string]string{"X-Agent-Connected": "1"}, ""), true},
		{byHeader, request(sip.BYE, map[string]string{"X-Agent-Connected": "1"}, ""), false},
		{byHeader, request(sip.INFO, nil, ""), false},
		{byInfo, request(sip.INFO, map[string]string{"Content-Type": "Application/X-Agent-State; v=1"}, "state=connected\r\n"), true},
		{byInfo, request(sip.INFO, map[string]string{"Content-Type": "application/x-agent-state"}, "state=waiting\r\n"), false},
		{byInfo, request(sip.INFO, map[string]string{"Content-Type": "application/dtmf-relay"}, "connected"), false},
		{byInfo, request(sip.UPDATE, map[string]string{"Content-Type": "application/x-agent-state"}, "connected"), false},
		{&AgentSignal{ContentType: "application/x-agent-state"}, request(sip.INFO, map[string]string{"Content-Type": "application/x-agent-state"}, ""), true},
		{nil, request(sip.INFO, map[string]string{"X-Agent-Connected": "1"}, ""), false},
	} {
		if got := tc.signal.in(tc.req); got != tc.want {
			t.Errorf("%+v on %s %v: %v, want %v", tc.signal, tc.req.Method, tc.req.Headers(), got, tc.want)
		}
	}
}

// awaitNext is await without waiting out d: it returns the first message
// whose start line begins with start as soon as it comes.
func awaitNext(t *testing.T, c net.PacketConn, d time.Duration, start string) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if got := recvFirst(c, time.Until(deadline)); len(got) == 1 && strings.HasPrefix(got[0], start) {
			return got[0]
		}
	}
	t.Fatalf("no %q arrived", start)
	return ""
}
