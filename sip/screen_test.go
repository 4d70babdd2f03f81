package sip

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestStrangerGets403AndNothingIsForwarded(t *testing.T) {
	r := newRig(t, allowAll{})
	stranger := freeUDP(t, "127.0.0.3")
	send(t, stranger, r.proxyAddr(), invite("stranger-1", "s1"))
	got := recvFirst(stranger, time.Second)
	if len(got) == 0 || !strings.HasPrefix(got[0], "SIP/2.0 403") {
		t.Fatalf("stranger's INVITE got %q, want 403", firstLines(got))
	}
	if fwd := recvFirst(r.carrier, 300*time.Millisecond); len(fwd) > 0 {
		t.Errorf("the carrier got %q from a stranger", firstLines(fwd))
	}
	if n := r.p.Stats().Refused[Stranger]; n != 1 {
		t.Errorf("stranger counted %d, want 1", n)
	}
}

func TestStrangersDroppedWhenConfigured(t *testing.T) {
	r := newRigWith(t, allowAll{}, func(c *Config) { c.DropStrangers = true })
	stranger := freeUDP(t, "127.0.0.3")
	send(t, stranger, r.proxyAddr(), invite("stranger-2", "s2"))
	if got := recvFirst(stranger, 500*time.Millisecond); len(got) > 0 {
		t.Errorf("a dropped stranger got %q", firstLines(got))
	}
	if n := r.p.Stats().Refused[Stranger]; n != 1 {
		t.Errorf("stranger counted %d, want 1", n)
	}
}

// A stranger's TCP connection is closed at once when strangers are dropped,
// and its requests answered 403 otherwise, without reaching sipgo.
func TestStrangerOverTCP(t *testing.T) {
	for _, drop := range []bool{false, true} {
		t.Run(fmt.Sprint("drop=", drop), func(t *testing.T) {
			r := newRigWith(t, allowAll{}, func(c *Config) {
				c.Listen = append(c.Listen, Listener{"tcp", c.Listen[0].Addr})
				c.DropStrangers = drop
			})
			conn, err := net.DialTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: r.port})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			msg := strings.ReplaceAll(strings.ReplaceAll(invite("stranger-tcp", "st"), "UDP LOCAL", "TCP "+conn.LocalAddr().String()), "\n", "\r\n")
			conn.Write([]byte(msg))
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 4096)
			n, _ := conn.Read(buf)
			got, _, _ := strings.Cut(string(buf[:n]), "\r\n")
			if want := map[bool]string{false: "SIP/2.0 403 Forbidden", true: ""}[drop]; got != want {
				t.Errorf("stranger over TCP got %q, want %q", got, want)
			}
			if n := r.p.Stats().Refused[Stranger]; n != 1 {
				t.Errorf("stranger counted %d, want 1", n)
			}
		})
	}
}

// Garbage from a stranger is counted, never answered and never logged a
// line per datagram: the refusals come in one summary line per interval.
func TestStrangersGarbageIsCountedAndSummarised(t *testing.T) {
	var logs syncBuf
	r := newRigWith(t, allowAll{}, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.RefusalLogInterval = 200 * time.Millisecond
	})
	stranger := freeUDP(t, "127.0.0.3")
	const sent = 2000
	for i := range sent {
		stranger.WriteTo(bytes.Repeat([]byte{byte(i)}, 1000), r.proxyAddr())
		if i%20 == 0 {
			time.Sleep(5 * time.Millisecond) // within the socket's buffer
		}
	}
	if got := recvFirst(stranger, 300*time.Millisecond); len(got) > 0 {
		t.Errorf("garbage got an answer: %q", firstLines(got))
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.p.Stats().Refused[Unparsable] < sent/2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // one more summary
	n := r.p.Stats().Refused[Unparsable]
	if n < sent/2 { // UDP may drop some on a loaded machine, not most
		t.Fatalf("unparsable counted %d of %d datagrams", n, sent)
	}
	lines := strings.Count(logs.String(), "\n")
	if lines == 0 || lines > 10 {
		t.Errorf("%d log lines for %d garbage datagrams, want a few summaries:\n%s", lines, sent, logs.String())
	}
	if !strings.Contains(logs.String(), "unparsable=") || !strings.Contains(logs.String(), "127.0.0.3 (") {
		t.Errorf("the summary names neither the reason nor the source:\n%s", logs.String())
	}
}

// sipgo logs each message from a known source it cannot parse at ERROR with
// the whole datagram; through logBudget that is one short line per interval.
func TestGarbageFromADialerIsLoggedOncePerInterval(t *testing.T) {
	var logs syncBuf
	r := newRigWith(t, allowAll{}, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.RefusalLogInterval = time.Hour
	})
	const sent = 200
	for i := range sent {
		r.dialer.WriteTo([]byte("INVITE garbage\r\n"+strings.Repeat("x", 2000)+"\r\n\r\n"), r.proxyAddr())
		if i%20 == 0 {
			time.Sleep(5 * time.Millisecond) // within the socket's buffer
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.p.Stats().Refused[Unparsable] < sent/2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := r.p.Stats().Refused[Unparsable]; n < sent/2 {
		t.Fatalf("unparsable counted %d of %d", n, sent)
	}
	if lines := strings.Count(logs.String(), "\n"); lines != 1 {
		t.Errorf("%d log lines for %d unparsable datagrams, want 1:\n%.2000s", lines, sent, logs.String())
	}
	if len(logs.String()) > 1000 {
		t.Errorf("the log line holds the datagram in full (%d bytes)", len(logs.String()))
	}
}

// The carrier's other addresses (sip.carrier_sources) may end a call it
// was given; any other address may not, and nothing reaches the dialer.
func TestCarrierSourcesMayEndTheCarriersCalls(t *testing.T) {
	r := newRigWith(t, allowAll{}, func(c *Config) {
		c.CarrierSources = []netip.Prefix{netip.MustParsePrefix("127.0.0.4/32")}
	})
	bye := func(callID string) string {
		return fmt.Sprintf("BYE sip:2025550100@%s SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKbye%s\nMax-Forwards: 70\nFrom: <sip:2025550143@127.0.0.1>;tag=ct\nTo: <sip:2025550100@127.0.0.2>;tag=dt\nCall-ID: %s\nCSeq: 9 BYE\nContent-Length: 0\n\n", r.dialer.LocalAddr(), callID, callID)
	}
	establish(t, r, "cs-other")
	other := freeUDP(t, "127.0.0.5")
	send(t, other, r.proxyAddr(), bye("cs-other"))
	if got := recvFirst(other, time.Second); len(got) == 0 || !strings.HasPrefix(got[0], "SIP/2.0 403") {
		t.Errorf("a BYE from an address that is not the carrier's got %q, want 403", firstLines(got))
	}
	if got := recvFirst(r.dialer, 200*time.Millisecond); len(got) > 0 {
		t.Errorf("the dialer got %q from a stranger", firstLines(got))
	}

	establish(t, r, "cs-sbc")
	sbc := freeUDP(t, "127.0.0.4")
	send(t, sbc, r.proxyAddr(), bye("cs-sbc"))
	if got := recvFirst(r.dialer, time.Second); len(got) == 0 || !strings.HasPrefix(got[0], "BYE ") {
		t.Errorf("a BYE from the carrier's other address reached the dialer as %q", firstLines(got))
	}
}
