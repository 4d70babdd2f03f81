package sip

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func openUDPSocket(t *testing.T, addr string) *udpSocket {
	t.Helper()
	s, err := listenUDP(addr)
	if err != nil {
		t.Skipf("no UDP socket on %s: %v", addr, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A datagram goes from one socket to the other with its source address,
// also when the read starts before it arrives (the netpoller's wait).
func TestUDPSocketCarriesADatagramBothWays(t *testing.T) {
	for _, host := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(host, func(t *testing.T) {
			a, b := openUDPSocket(t, host), openUDPSocket(t, host)
			b.SetReadDeadline(time.Now().Add(5 * time.Second))
			type read struct {
				data []byte
				from net.Addr
				err  error
			}
			got := make(chan read, 1)
			go func() {
				buf := make([]byte, 2048)
				n, from, err := b.ReadFrom(buf)
				got <- read{buf[:n], from, err}
			}()
			time.Sleep(50 * time.Millisecond) // the read waits in the netpoller
			msg := []byte("OPTIONS sip:gatekeeper SIP/2.0\r\n\r\n")
			if n, err := a.WriteTo(msg, b.LocalAddr()); err != nil || n != len(msg) {
				t.Fatalf("WriteTo: %d bytes, %v", n, err)
			}
			r := <-got
			if r.err != nil {
				t.Fatal(r.err)
			}
			if !bytes.Equal(r.data, msg) {
				t.Fatalf("read %q, sent %q", r.data, msg)
			}
			if r.from.String() != a.LocalAddr().String() {
				t.Fatalf("source %s, sent from %s", r.from, a.LocalAddr())
			}
			// And back, to the address the read gave.
			if _, err := b.WriteTo([]byte("SIP/2.0 200 OK\r\n\r\n"), r.from); err != nil {
				t.Fatal(err)
			}
			a.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 2048)
			n, from, err := a.ReadFrom(buf)
			if err != nil || string(buf[:n]) != "SIP/2.0 200 OK\r\n\r\n" || from.String() != b.LocalAddr().String() {
				t.Fatalf("answer %q from %v: %v", buf[:n], from, err)
			}
		})
	}
}

// Closing the socket ends a read that waits, with net.ErrClosed, which is
// how sipgo's UDP transport knows to stop serving it.
func TestUDPSocketCloseEndsAWaitingRead(t *testing.T) {
	s, err := listenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := s.ReadFrom(make([]byte, 2048))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read ended with %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read did not end when the socket closed")
	}
}

// A read deadline ends a waiting read with a timeout, as on a net.UDPConn.
func TestUDPSocketReadDeadline(t *testing.T) {
	s := openUDPSocket(t, "127.0.0.1:0")
	s.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, _, err := s.ReadFrom(make([]byte, 2048))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read ended with %v, want a timeout", err)
	}
}

// An AF_INET6 socket open to both families (what net makes of a wildcard
// listener such as 0.0.0.0:5060) writes to an IPv4 peer at its v4-mapped
// address and reports the peer as IPv4, as the peer's own socket names it.
func TestUDPSocketDualStackReachesAnIPv4Peer(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no AF_INET6 socket: %v", err)
	}
	f := os.NewFile(uintptr(fd), "dual")
	defer f.Close()
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet6{Addr: netip.MustParseAddr("::ffff:127.0.0.1").As16()}); err != nil {
		t.Skipf("no dual-stack socket on 127.0.0.1: %v", err)
	}
	pc, err := net.FilePacketConn(f)
	if err != nil {
		t.Fatal(err)
	}
	dual, err := newUDPSocket(pc.(*net.UDPConn))
	if err != nil {
		t.Fatal(err)
	}
	defer dual.Close()
	if !dual.inet6 {
		t.Fatal("an AF_INET6 socket taken for AF_INET")
	}
	peer := openUDPSocket(t, "127.0.0.1:0")
	deadline := time.Now().Add(5 * time.Second)
	dual.SetReadDeadline(deadline)
	peer.SetReadDeadline(deadline)
	buf := make([]byte, 2048)

	if _, err := dual.WriteTo([]byte("ping"), peer.LocalAddr()); err != nil {
		t.Fatalf("to an IPv4 peer: %v", err)
	}
	n, from, err := peer.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("peer read %q: %v", buf[:n], err)
	}
	if _, err := peer.WriteTo([]byte("pong"), from); err != nil {
		t.Fatal(err)
	}
	n, from, err = dual.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("dual read %q: %v", buf[:n], err)
	}
	if ua := from.(*net.UDPAddr); ua.String() != peer.LocalAddr().String() || len(ua.IP) != net.IPv4len {
		t.Fatalf("source %s (%d-byte IP), want %s as IPv4", ua, len(ua.IP), peer.LocalAddr())
	}
}

// A link-local IPv6 source keeps its scope as the zone, without which an
// answer to it cannot be sent (sendto fails with EINVAL).
func TestUDPSocketKeepsTheScopeOfALinkLocalSource(t *testing.T) {
	var from unix.RawSockaddrAny
	in6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(&from))
	in6.Family = unix.AF_INET6
	in6.Addr = netip.MustParseAddr("fe80::1").As16()
	port := (*[2]byte)(unsafe.Pointer(&in6.Port))
	port[0], port[1] = 0x13, 0xc4 // 5060, in network byte order
	in6.Scope_id = 2
	if got := udpAddr(&from).String(); got != "[fe80::1%2]:5060" {
		t.Fatalf("source %s, want [fe80::1%%2]:5060", got)
	}
	in6.Addr, in6.Scope_id = netip.MustParseAddr("2001:db8::1").As16(), 0
	if got := udpAddr(&from).String(); got != "[2001:db8::1]:5060" {
		t.Fatalf("source %s, want [2001:db8::1]:5060", got)
	}
}

// Errors read as net.UDPConn's: a system call's errno in an
// *os.SyscallError naming the call; a closed socket's error once.
func TestUDPSocketErrorsReadAsNetUDPConns(t *testing.T) {
	s := openUDPSocket(t, "127.0.0.1:0")
	_, err := s.WriteTo(make([]byte, 70000), s.LocalAddr()) // more than a UDP datagram holds
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != "sendto" || !errors.Is(err, unix.EMSGSIZE) {
		t.Fatalf("an oversize datagram: %v, want sendto: EMSGSIZE", err)
	}
	s.Close()
	_, _, err = s.ReadFrom(make([]byte, 2048))
	if want := "read udp " + s.LocalAddr().String() + ": " + net.ErrClosed.Error(); err == nil || err.Error() != want || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a read of a closed socket: %v, want %s", err, want)
	}
}
