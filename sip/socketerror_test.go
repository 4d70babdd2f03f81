package sip

import (
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// A read error other than a closed socket (the kernel short of buffers)
// does not stop the proxy reading its UDP socket: sipgo's reader returns on
// any, and the gatekeeper would have taken no call after it.
func TestAReadErrorDoesNotStopTheSocket(t *testing.T) {
	pipe := newPacketPipe()
	p := unservedProxy(t)
	t.Cleanup(func() { pipe.Close() })
	go p.server.ServeUDP(cancelTap{PacketConn: pipe, p: p, reading: func() {}, retry: &retry{}})
	enobufs := &net.OpError{Op: "read", Net: "udp", Err: os.NewSyscallError("recvfrom", syscall.ENOBUFS)}
	options := "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5080;branch=z9hG4bKreaderr\r\nMax-Forwards: 70\r\nFrom: <sip:d@127.0.0.2>;tag=d\r\nTo: <sip:127.0.0.1>\r\nCall-ID: readerr\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	for _, d := range []datagram{{err: enobufs}, {err: enobufs}, {data: []byte(options), addr: fuzzDialer}} {
		select {
		case pipe.in <- d:
		case <-time.After(2 * time.Second):
			t.Fatal("the proxy stopped reading its socket after a read error")
		}
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if slices.Contains(pipe.destinations(), fuzzDialer.IP.String()) {
			return
		}
	}
	t.Fatal("the OPTIONS read after the errors got no answer")
}

// An accept error other than a closed listener (EMFILE under a flood of
// connections) does not stop the proxy accepting: sipgo's TCP and TLS
// listeners return on any, and Serve, and the gatekeeper, with them.
func TestAnAcceptErrorDoesNotStopTheListener(t *testing.T) {
	p := unservedProxy(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}()
	c, err := cancelTapListener{&failingOnce{Listener: ln}, p, &retry{}}.Accept()
	if err != nil {
		t.Fatalf("Accept returned %v; the listener would stop", err)
	}
	c.Close()
}

// failingOnce is a listener whose first Accept fails as one out of file
// descriptors does.
type failingOnce struct {
	net.Listener
	failed bool
}

func (l *failingOnce) Accept() (net.Conn, error) {
	if !l.failed {
		l.failed = true
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// unservedProxy is a proxy whose sockets the test serves itself; the
// carrier (127.0.0.1) and a dialer (127.0.0.2) are known to it.
func unservedProxy(t *testing.T) *Proxy {
	p, err := New(Config{
		Listen:        []Listener{{"udp", fuzzProxy.String()}},
		Carrier:       "sip:" + fuzzCarrier.String(),
		Dialers:       []Dialer{{Name: "d", Sources: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}},
		DefaultRegion: "US",
		Logger:        slog.New(slog.DiscardHandler),
	}, allowAll{}, func(policy.Call, policy.Decision, int) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}
