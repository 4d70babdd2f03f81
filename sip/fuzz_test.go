package sip

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// The addresses the request-path fuzz test plays: no socket is opened, the
// proxy reads and writes through a packetPipe.
var (
	fuzzProxy    = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}
	fuzzCarrier  = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5070}
	fuzzDialer   = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 5080}
	fuzzStranger = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 3), Port: 5090}
)

// packetPipe is the proxy's UDP socket in memory: ReadFrom gives what is
// put in, WriteTo keeps where each message went and answers every
// INVITE sent to the carrier with 486, so that its transaction ends.
type packetPipe struct {
	in     chan datagram
	closed chan struct{}
	mu     sync.Mutex
	wrote  []datagram
}

type datagram struct {
	data []byte
	addr *net.UDPAddr
	err  error // returned by ReadFrom instead
}

func newPacketPipe() *packetPipe {
	return &packetPipe{in: make(chan datagram, 16), closed: make(chan struct{})}
}

func (c *packetPipe) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case d := <-c.in:
		if d.err != nil {
			return 0, nil, d.err
		}
		return copy(b, d.data), d.addr, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *packetPipe) WriteTo(b []byte, addr net.Addr) (int, error) {
	to, _ := addr.(*net.UDPAddr)
	if to == nil {
		ap, err := netip.ParseAddrPort(addr.String())
		if err != nil {
			return 0, err
		}
		to = net.UDPAddrFromAddrPort(ap)
	}
	c.mu.Lock()
	c.wrote = append(c.wrote, datagram{data: bytes.Clone(b), addr: to})
	c.mu.Unlock()
	if to.String() == fuzzCarrier.String() && bytes.HasPrefix(b, []byte("INVITE ")) {
		busy := []byte(strings.ReplaceAll(answer(string(b), "486 Busy Here", ""), "\n", "\r\n"))
		go func() { c.in <- datagram{data: busy, addr: fuzzCarrier} }()
	}
	return len(b), nil
}

// settle waits until nothing has been written for quiet (a second at
// most) and forgets what was: a late answer to an earlier datagram (sipgo
// answers from a goroutine of its own) is not the next datagram's doing.
func (c *packetPipe) settle(quiet time.Duration) {
	for n, deadline := -1, time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(quiet) {
		c.mu.Lock()
		m := len(c.wrote)
		c.mu.Unlock()
		if m == n {
			break
		}
		n = m
	}
	c.destinations()
}

// destinations are the IP addresses written to since the last call.
func (c *packetPipe) destinations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var to []string
	for _, d := range c.wrote {
		to = append(to, d.addr.IP.String())
	}
	c.wrote = c.wrote[:0]
	return to
}

func (c *packetPipe) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}
func (c *packetPipe) LocalAddr() net.Addr              { return fuzzProxy }
func (c *packetPipe) SetDeadline(time.Time) error      { return nil }
func (c *packetPipe) SetReadDeadline(time.Time) error  { return nil }
func (c *packetPipe) SetWriteDeadline(time.Time) error { return nil }

// byLastDigit allows a call whose number ends in an even digit and rejects
// the rest, so that both paths are taken.
type byLastDigit struct{}

func (byLastDigit) Decide(_ context.Context, c policy.Call) policy.Decision {
	if c.Called != "" && (c.Called[len(c.Called)-1]-'0')%2 == 1 {
		return policy.Decision{Action: policy.Reject, Rule: "internal-dnc", Status: 603, Reason: "Decline"}
	}
	return policy.Decision{Action: policy.Allow, Rule: "default"}
}
func (byLastDigit) Forwarded(context.Context, policy.Call) error { return nil }

// FuzzRequest drives the proxy's handling of a datagram, from the socket's
// screening through sipgo and the handlers to the carrier, in process: the
// first byte says who sends it (a dialer, the carrier, a stranger), the
// rest is the datagram. Whatever it holds, the proxy sends only to the
// dialer's, the carrier's and the sender's IP address (an answer goes to
// the port the top Via names, RFC 3261 §18.2.2), never to a host the
// message names, and does not crash. Seeds: RFC 4475's torture messages among them.
func FuzzRequest(f *testing.F) {
	pipe := newPacketPipe()
	p, err := New(Config{
		Listen:        []Listener{{"udp", fuzzProxy.String()}},
		Carrier:       "sip:" + fuzzCarrier.String(),
		Dialers:       []Dialer{{Name: "d", Sources: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}, Automated: true}},
		DefaultRegion: "US",
		Logger:        slog.New(slog.DiscardHandler),
	}, byLastDigit{}, func(policy.Call, policy.Decision, int) {})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { pipe.Close(); p.Close() })
	go p.server.ServeUDP(cancelTap{PacketConn: pipe, p: p, reading: func() {}, retry: &retry{}})
	close(p.ready)
	senders := []*net.UDPAddr{fuzzDialer, fuzzCarrier, fuzzStranger}
	allowed := map[string]bool{fuzzDialer.IP.String(): true, fuzzCarrier.IP.String(): true}
	f.Fuzz(func(t *testing.T, from uint8, msg []byte) {
		sender := senders[int(from)%len(senders)]
		pipe.settle(5 * time.Millisecond)
		select {
		case pipe.in <- datagram{data: msg, addr: sender}:
		case <-time.After(3 * time.Second):
			t.Fatal("the proxy stopped reading its socket")
		}
		// sipgo handles a request in a goroutine of its own: wait until no
		// INVITE is in progress, or a moment for anything else.
		time.Sleep(time.Millisecond)
		for deadline := time.Now().Add(time.Second); p.activeInvites() > 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		for _, to := range pipe.destinations() {
			if !allowed[to] && to != sender.IP.String() {
				t.Fatalf("the proxy sent to %s, which is neither the dialer, the carrier nor the sender %s", to, sender)
			}
		}
	})
}
