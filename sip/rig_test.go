package sip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/policy"
)

type allowAll struct{ delay time.Duration }

func (a allowAll) Decide(context.Context, policy.Call) policy.Decision {
	time.Sleep(a.delay)
	return policy.Decision{Action: policy.Allow, Rule: "default"}
}
func (allowAll) Forwarded(context.Context, policy.Call) error { return nil }

type rig struct {
	p               *Proxy
	port            int
	carrier, dialer net.PacketConn
	mu              sync.Mutex
	statuses        []int
	ends            []CallEnd
	start, stop     func() // the proxy, for restart
}

func freeUDP(t *testing.T, ip string) net.PacketConn {
	c, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newRig(t *testing.T, d Decider) *rig { return newRigWith(t, d, func(*Config) {}) }

// newRigWith is newRig with a config that adjust changes first; sinks, when
// given, get each decision after the rig has counted its status.
func newRigWith(t *testing.T, d Decider, adjust func(*Config), sinks ...DecisionSink) *rig {
	r := &rig{carrier: freeUDP(t, "127.0.0.1"), dialer: freeUDP(t, "127.0.0.2")}
	tmp := freeUDP(t, "127.0.0.1")
	r.port = tmp.LocalAddr().(*net.UDPAddr).Port
	tmp.Close()
	cfg := Config{
		Listen:        []Listener{{"udp", fmt.Sprintf("127.0.0.1:%d", r.port)}},
		Carrier:       "sip:" + r.carrier.LocalAddr().String(),
		Dialers:       []Dialer{{Name: "d", Sources: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}},
		DefaultRegion: "US",
		OnCallEnd: func(e CallEnd) {
			r.mu.Lock()
			r.ends = append(r.ends, e)
			r.mu.Unlock()
		},
	}
	cfg.RouteKey = NewRouteKey() // kept by restart
	adjust(&cfg)
	r.start = func() {
		p, err := New(cfg, d, func(c policy.Call, dec policy.Decision, status int) {
			r.mu.Lock()
			r.statuses = append(r.statuses, status)
			r.mu.Unlock()
			for _, sink := range sinks {
				sink(c, dec, status)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan struct{})
		go func() {
			p.Serve(ctx)
			close(served)
		}()
		<-p.Ready()
		r.p, r.stop = p, func() { cancel(); p.Close(); <-served } // the sockets are closed
	}
	r.start()
	t.Cleanup(func() { r.stop() })
	return r
}

// restart replaces the proxy with a new one on the same address and route
// key, as a gatekeeper restarted after a crash: nothing in memory survives.
func (r *rig) restart() {
	r.stop()
	r.start()
}

func (r *rig) proxyAddr() *net.UDPAddr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: r.port} }

func send(t *testing.T, c net.PacketConn, to net.Addr, msg string) {
	msg = strings.ReplaceAll(msg, "LOCAL", c.LocalAddr().String())
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, "\r\n", "\n"), "\n", "\r\n")
	if _, err := c.WriteTo([]byte(msg), to); err != nil {
		t.Fatal(err)
	}
}

// recv collects every message c gets within d.
func recv(c net.PacketConn, d time.Duration) []string {
	var out []string
	buf := make([]byte, 65535)
	c.SetReadDeadline(time.Now().Add(d))
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return out
		}
		out = append(out, string(buf[:n]))
	}
}

// recvFirst waits up to d for one message on c.
func recvFirst(c net.PacketConn, d time.Duration) []string {
	buf := make([]byte, 65535)
	c.SetReadDeadline(time.Now().Add(d))
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		return nil
	}
	return []string{string(buf[:n])}
}

// recvCall waits up to d for the first message of call callID on c, passing
// over late answers of earlier calls, which a loaded machine can delay.
func recvCall(c net.PacketConn, callID string, d time.Duration) []string {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		got := recvFirst(c, time.Until(deadline))
		if len(got) == 1 && strings.Contains(got[0], "\r\nCall-ID: "+callID+"\r\n") {
			return got
		}
	}
	return nil
}

// placeCall sends a new INVITE from the dialer and returns the carrier's copy.
func (r *rig) placeCall(t *testing.T, msg string) string {
	t.Helper()
	send(t, r.dialer, r.proxyAddr(), msg)
	got := recvFirst(r.carrier, time.Second)
	if len(got) == 0 {
		t.Fatal("the carrier got no INVITE")
	}
	return got[0]
}

// await returns the first message c gets within d whose start line begins with start.
func await(t *testing.T, c net.PacketConn, d time.Duration, start string) string {
	t.Helper()
	for _, m := range recv(c, d) {
		if strings.HasPrefix(m, start) {
			return m
		}
	}
	t.Fatalf("no %q arrived", start)
	return ""
}

func firstLines(msgs []string) []string {
	var l []string
	for _, m := range msgs {
		s, _, _ := strings.Cut(m, "\r\n")
		l = append(l, s)
	}
	return l
}

func invite(callID, branch string) string {
	return "INVITE sip:2025550143@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bK" + branch + "\nMax-Forwards: 70\nFrom: <sip:2025550100@127.0.0.2>;tag=dt\nTo: <sip:2025550143@127.0.0.1>\nCall-ID: " + callID + "\nCSeq: 1 INVITE\nContact: <sip:LOCAL>\nContent-Length: 0\n\n"
}

// answer builds a response to msg copying Via, From, To (+tag), Call-ID, CSeq, as a UAS does.
func answer(msg, status string, extra string) string {
	var b strings.Builder
	b.WriteString("SIP/2.0 " + status + "\n")
	for _, l := range strings.Split(msg, "\r\n") {
		low := strings.ToLower(l)
		switch {
		case strings.HasPrefix(low, "via:"), strings.HasPrefix(low, "from:"), strings.HasPrefix(low, "call-id:"), strings.HasPrefix(low, "cseq:"), strings.HasPrefix(low, "record-route:"):
			b.WriteString(l + "\n")
		case strings.HasPrefix(low, "to:"):
			b.WriteString(l + ";tag=ct\n")
		}
	}
	b.WriteString(extra + "Content-Length: 0\n\n")
	return b.String()
}

// syncBuf is a log sink the proxy's goroutines may write at once.
type syncBuf struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// cancelText is the CANCEL of an INVITE the rig's dialer sent: the same
// Request-URI, Call-ID, From, To, top Via and CSeq number (RFC 3261 §9.1),
// method CANCEL, no Contact.
func cancelText(inv string) string {
	c := strings.Replace(inv, "INVITE sip", "CANCEL sip", 1)
	c = strings.Replace(c, "1 INVITE", "1 CANCEL", 1)
	return strings.Replace(c, "Contact: <sip:LOCAL>\n", "", 1)
}

// ringThenCancel places inv, has the carrier ring and the dialer cancel,
// and returns the INVITE the carrier got, once the carrier has the CANCEL.
func (r *rig) ringThenCancel(t *testing.T, inv string) string {
	t.Helper()
	got := r.placeCall(t, inv)
	send(t, r.carrier, r.proxyAddr(), answer(got, "180 Ringing", ""))
	await(t, r.dialer, time.Second, "SIP/2.0 180 ")
	send(t, r.dialer, r.proxyAddr(), cancelText(inv))
	await(t, r.carrier, time.Second, "CANCEL ")
	return got
}
