package sip

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"
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
