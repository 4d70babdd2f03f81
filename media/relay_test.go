package media

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"golang.org/x/sys/unix"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// newRelay starts a relay on loopback over a range of 40 ports (ports that
// other programs hold are skipped).
func newRelay(t testing.TB, idle time.Duration) *Relay {
	t.Helper()
	r, err := New(Config{Address: loopback, PortLow: 41000, PortHigh: 41039, IdleTimeout: idle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// endpoint is one side's phone: an RTP and an RTCP socket on loopback.
type endpoint struct{ rtp, rtcp *net.UDPConn }

func newEndpoint(t testing.TB) endpoint {
	t.Helper()
	var e endpoint
	for _, c := range []**net.UDPConn{&e.rtp, &e.rtcp} {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		*c = conn
	}
	return e
}

func port(c *net.UDPConn) int { return c.LocalAddr().(*net.UDPAddr).Port }

// sdpFor is the SDP of a phone at e (c=addr, its RTP port, its RTCP port in a=rtcp).
func sdpFor(e endpoint, addr string) []byte {
	return crlf("v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 "+addr, "t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP 0", port(e.rtp)), fmt.Sprintf("a=rtcp:%d", port(e.rtcp)), "a=rtpmap:0 PCMU/8000")
}

var mPort = regexp.MustCompile(`m=audio (\d+) `)

// anchored returns the relay's port an SDP it rewrote names.
func anchored(t testing.TB, sdp []byte) netip.AddrPort {
	t.Helper()
	m := mPort.FindSubmatch(sdp)
	if m == nil || !bytes.Contains(sdp, []byte("c=IN IP4 127.0.0.1")) {
		t.Fatalf("rewritten SDP names no relay port:\n%s", sdp)
	}
	p, _ := strconv.Atoi(string(m[1]))
	return netip.AddrPortFrom(loopback, uint16(p))
}

// call anchors a call between a dialer and a carrier; it returns the
// relay's port the dialer sends to and the one the carrier sends to.
func call(t testing.TB, r *Relay, id string, dialer, carrier endpoint) (toDialerSide, toCarrierSide netip.AddrPort) {
	t.Helper()
	offer, err := r.Rewrite(id, Dialer, sdpFor(dialer, "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	answer, err := r.Rewrite(id, Carrier, sdpFor(carrier, "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	return anchored(t, answer), anchored(t, offer)
}

func rtpPacket(t testing.TB, seq uint16) []byte {
	t.Helper()
	p := rtp.Packet{
		Header:  rtp.Header{Version: 2, Marker: seq == 1, PayloadType: 0, SequenceNumber: seq, Timestamp: 160 * uint32(seq), SSRC: 0x1234abcd},
		Payload: bytes.Repeat([]byte{byte(seq)}, 160),
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// receive reads one packet on c within 5 s (a loaded machine may be slow); it
// fails the test when none comes.
func receive(t testing.TB, c *net.UDPConn) ([]byte, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, src, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no packet arrived at %v: %v", c.LocalAddr(), err)
	}
	return buf[:n], src
}

// nothing asserts that no packet arrives on c within 200 ms.
func nothing(t testing.TB, c *net.UDPConn) {
	t.Helper()
	buf := make([]byte, 2048)
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, src, err := c.ReadFromUDPAddrPort(buf); err == nil {
		t.Fatalf("%d bytes from %v arrived at %v, want none", n, src, c.LocalAddr())
	}
}

func send(t testing.TB, c *net.UDPConn, b []byte, to netip.AddrPort) {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatal(err)
	}
}

func TestRelayBothWaysUnchanged(t *testing.T) {
	r := newRelay(t, 0)
	dialer, carrier := newEndpoint(t), newEndpoint(t)
	dPort, cPort := call(t, r, "call-1", dialer, carrier)

	for seq := uint16(1); seq <= 5; seq++ {
		sent := rtpPacket(t, seq)
		send(t, dialer.rtp, sent, dPort)
		got, src := receive(t, carrier.rtp)
		if !bytes.Equal(got, sent) {
			t.Fatalf("dialer->carrier packet %d changed:\n got %x\nwant %x", seq, got, sent)
		}
		if src != cPort {
			t.Fatalf("the carrier got RTP from %v, want the relay's %v", src, cPort)
		}
		var p rtp.Packet
		if err := p.Unmarshal(got); err != nil || p.SSRC != 0x1234abcd || p.SequenceNumber != seq || p.Timestamp != 160*uint32(seq) {
			t.Fatalf("packet %d read as %+v (%v)", seq, p.Header, err)
		}

		back := rtpPacket(t, 100+seq)
		send(t, carrier.rtp, back, cPort)
		if got, src := receive(t, dialer.rtp); !bytes.Equal(got, back) || src != dPort {
			t.Fatalf("carrier->dialer packet %d: %x from %v, want %x from %v", seq, got, src, back, dPort)
		}
	}
	// RTCP goes between the ports after them, to the a=rtcp ports.
	report := []byte{0x80, 200, 0, 6, 0x12, 0x34, 0xab, 0xcd, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	send(t, dialer.rtcp, report, netip.AddrPortFrom(loopback, dPort.Port()+1))
	if got, _ := receive(t, carrier.rtcp); !bytes.Equal(got, report) {
		t.Fatalf("RTCP arrived as %x, want %x", got, report)
	}
	send(t, carrier.rtcp, report, netip.AddrPortFrom(loopback, cPort.Port()+1))
	if got, _ := receive(t, dialer.rtcp); !bytes.Equal(got, report) {
		t.Fatalf("RTCP back arrived as %x, want %x", got, report)
	}
	// Not RTP on an RTP port: dropped.
	send(t, dialer.rtp, []byte("hello"), dPort)
	nothing(t, carrier.rtp)

	if s := r.Stats(); s.Packets != 12 || s.Sessions != 1 || s.PortsInUse != 4 || s.Dropped != 1 {
		t.Fatalf("stats %+v, want 12 packets, 1 session, 4 ports, 1 dropped", s)
	}
}

// The relay sends to where a side's packets come from, not to what its SDP
// says (a phone behind NAT), and again to its SDP's address after a new SDP.
func TestRelayLatchesToTheSourceSeen(t *testing.T) {
	r := newRelay(t, 0)
	dialer, carrier, natted := newEndpoint(t), newEndpoint(t), newEndpoint(t)
	dPort, cPort := call(t, r, "call-nat", dialer, carrier)

	// Before the dialer sent anything, the carrier's packets go to the dialer's SDP address.
	send(t, carrier.rtp, rtpPacket(t, 1), cPort)
	receive(t, dialer.rtp)

	send(t, natted.rtp, rtpPacket(t, 2), dPort) // the dialer's packets come from elsewhere
	receive(t, carrier.rtp)
	send(t, carrier.rtp, rtpPacket(t, 3), cPort)
	if got, _ := receive(t, natted.rtp); !bytes.Equal(got, rtpPacket(t, 3)) {
		t.Fatalf("the latched source got %x", got)
	}
	nothing(t, dialer.rtp)

	// A stranger's packets after the latch move nothing.
	stranger := newEndpoint(t)
	send(t, stranger.rtp, rtpPacket(t, 4), dPort)
	receive(t, carrier.rtp)
	send(t, carrier.rtp, rtpPacket(t, 5), cPort)
	receive(t, natted.rtp)
	nothing(t, stranger.rtp)
}

// Hold with c=0.0.0.0: nothing is sent to the held side, and its own
// packets do not latch it back; a new SDP resumes.
func TestRelayHold(t *testing.T) {
	r := newRelay(t, 0)
	dialer, carrier := newEndpoint(t), newEndpoint(t)
	dPort, cPort := call(t, r, "call-hold", dialer, carrier)
	held, err := r.Rewrite("call-hold", Dialer, sdpFor(dialer, "0.0.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(held, []byte("c=IN IP4 0.0.0.0")) || anchoredPort(held) != cPort.Port() {
		t.Fatalf("the hold went on as:\n%s", held)
	}
	send(t, dialer.rtp, rtpPacket(t, 1), dPort)
	receive(t, carrier.rtp)
	send(t, carrier.rtp, rtpPacket(t, 2), cPort)
	nothing(t, dialer.rtp)

	if _, err := r.Rewrite("call-hold", Dialer, sdpFor(dialer, "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	send(t, carrier.rtp, rtpPacket(t, 3), cPort)
	receive(t, dialer.rtp)
}

func anchoredPort(sdp []byte) uint16 {
	m := mPort.FindSubmatch(sdp)
	if m == nil {
		return 0
	}
	p, _ := strconv.Atoi(string(m[1]))
	return uint16(p)
}

func bindable(p netip.AddrPort) bool {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(p))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestReleaseFreesPorts(t *testing.T) {
	r := newRelay(t, 0)
	dPort, cPort := call(t, r, "call-bye", newEndpoint(t), newEndpoint(t))
	if bindable(dPort) || bindable(cPort) {
		t.Fatal("the relay's ports are not bound")
	}
	r.Release("call-bye")
	if !bindable(dPort) || !bindable(cPort) {
		t.Fatal("a released call's ports are still bound")
	}
	if s := r.Stats(); s.Sessions != 0 || s.PortsInUse != 0 {
		t.Fatalf("stats %+v after release", s)
	}
	r.Release("call-bye") // twice, or for a call never anchored: nothing
}

// SDP that comes after the call's release (a retransmitted 2xx, an answer
// crossing the hang-up) anchors nothing: a session of one side's SDP would
// never time out and would keep its ports.
func TestLateSDPAfterReleaseOpensNoSession(t *testing.T) {
	r := newRelay(t, 0)
	call(t, r, "call-late", newEndpoint(t), newEndpoint(t))
	r.Release("call-late")
	if _, err := r.Rewrite("call-late", Carrier, sdpFor(newEndpoint(t), "127.0.0.1")); !errors.Is(err, ErrReleased) {
		t.Fatalf("late answer: %v, want ErrReleased", err)
	}
	if s := r.Stats(); s.Sessions != 0 || s.PortsInUse != 0 {
		t.Fatalf("stats %+v after a late answer", s)
	}
	call(t, r, "call-next", newEndpoint(t), newEndpoint(t)) // other calls are anchored as before
}

// Calls released while both sides send flat out: each Release returns
// with the call's sockets closed (its ports bindable at once), whatever
// the worker was reading or sending, and a later call relays as before.
func TestReleaseWhilePacketsFlow(t *testing.T) {
	r := newRelay(t, 0)
	pkt := rtpPacket(t, 9)
	for i := range 20 {
		id := fmt.Sprintf("call-busy-%d", i)
		dialer, carrier := newEndpoint(t), newEndpoint(t)
		dPort, cPort := call(t, r, id, dialer, carrier)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, flow := range []struct {
			from *net.UDPConn
			to   netip.AddrPort
		}{{dialer.rtp, dPort}, {carrier.rtp, cPort}, {dialer.rtcp, netip.AddrPortFrom(loopback, dPort.Port()+1)}} {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
						flow.from.WriteToUDPAddrPort(pkt, flow.to)
					}
				}
			})
		}
		receive(t, carrier.rtp)
		receive(t, dialer.rtp)
		r.Release(id)
		free := bindable(dPort) && bindable(cPort)
		close(stop)
		wg.Wait()
		if !free {
			t.Fatalf("call %d: its ports were still bound when Release returned", i)
		}
	}
	if s := r.Stats(); s.Sessions != 0 || s.PortsInUse != 0 {
		t.Fatalf("stats %+v after every call was released", s)
	}
	dialer, carrier := newEndpoint(t), newEndpoint(t)
	dPort, _ := call(t, r, "call-after", dialer, carrier)
	send(t, dialer.rtp, pkt, dPort)
	if got, _ := receive(t, carrier.rtp); !bytes.Equal(got, pkt) {
		t.Fatalf("after the busy releases the relay passed %x, want %x", got, pkt)
	}
}

func TestIdleTimeoutFreesPorts(t *testing.T) {
	const idle = 500 * time.Millisecond
	r := newRelay(t, idle)
	dialer, carrier := newEndpoint(t), newEndpoint(t)
	// An offer alone (a call ringing without early media) does not time out.
	offer, err := r.Rewrite("call-ringing", Dialer, sdpFor(dialer, "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	dPort, cPort := call(t, r, "call-idle", dialer, carrier)
	var last time.Time
	for end := time.Now().Add(3 * idle); time.Now().Before(end); { // media keeps it up
		send(t, dialer.rtp, rtpPacket(t, 1), dPort)
		last = time.Now()
		receive(t, carrier.rtp)
		time.Sleep(idle / 10)
	}
	if s := r.Stats(); s.Sessions != 2 {
		t.Fatalf("%d sessions while media flows, want 2", s.Sessions)
	}
	for deadline := time.Now().Add(10 * idle); r.Stats().Sessions != 1 && time.Now().Before(deadline); {
		time.Sleep(idle / 20)
	}
	quiet := time.Since(last)
	s := r.Stats()
	if s.Sessions != 1 || s.IdleEnded != 1 || !bindable(dPort) || !bindable(cPort) {
		t.Fatalf("%v after the last packet: %+v, ports bindable %v %v; want the idle call ended", quiet, s, bindable(dPort), bindable(cPort))
	}
	if quiet < idle {
		t.Fatalf("the call ended %v after its last packet, before the %v idle timeout", quiet, idle)
	}
	if bindable(anchored(t, offer)) {
		t.Fatal("the ringing call's port was freed")
	}
}

func TestNoPorts(t *testing.T) {
	r, err := New(Config{Address: loopback, PortLow: 41100, PortHigh: 41103})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	e := newEndpoint(t)
	if _, err := r.Rewrite("a", Dialer, sdpFor(e, "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Rewrite("b", Dialer, sdpFor(e, "127.0.0.1")); err != ErrNoPorts {
		t.Fatalf("a second call on four ports: %v, want ErrNoPorts", err)
	}
}

// BenchmarkRelayPacket sends one G.711 packet through the relay per
// operation and waits for it on the other side; allocs/op counts the
// relay's goroutines too.
func BenchmarkRelayPacket(b *testing.B) {
	r := newRelay(b, 0)
	dialer, carrier := newEndpoint(b), newEndpoint(b)
	dPort, _ := call(b, r, "bench", dialer, carrier)
	pkt := rtpPacket(b, 7)
	buf := make([]byte, 2048)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dialer.rtp.WriteToUDPAddrPort(pkt, dPort); err != nil {
			b.Fatal(err)
		}
		if _, _, err := carrier.rtp.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// TestShortSliceKeepsNice: a worker's thread asks for workerSlice with the
// nice value it has; a zero nice in sched_setattr would reset it (or be
// refused without CAP_SYS_NICE, and leave the default slice).
func TestShortSliceKeepsNice(t *testing.T) {
	r := &Relay{log: slog.Default()}
	got := make(chan *unix.SchedAttr, 2)
	go func() {
		runtime.LockOSThread() // the thread ends with the goroutine: the nice value goes with it
		if err := unix.Setpriority(unix.PRIO_PROCESS, 0, 5); err != nil {
			t.Error(err)
		}
		before, err := unix.SchedGetAttr(0, 0)
		r.askShortSlice()
		after, err2 := unix.SchedGetAttr(0, 0)
		if err != nil || err2 != nil {
			t.Error("sched_getattr:", err, err2)
		}
		got <- before
		got <- after
	}()
	before, after := <-got, <-got
	if after == nil || before == nil {
		return
	}
	if after.Nice != 5 || after.Policy != unix.SCHED_NORMAL {
		t.Errorf("after askShortSlice: policy %d, nice %d; want 0 (SCHED_NORMAL), 5", after.Policy, after.Nice)
	}
	if before.Runtime == 0 {
		t.Log("the kernel reports no fair slice (before Linux 6.12): the slice is not checked")
	} else if after.Runtime != uint64(workerSlice) {
		t.Errorf("the thread's slice is %d ns, want %d", after.Runtime, uint64(workerSlice))
	}
}

// A destination is made only for an address of the relay's own family (a
// v4-mapped address counts as IPv4): a sockaddr_in from an IPv4 relay, a
// sockaddr_in6 from an IPv6 one; an address of the other family, or none,
// has no destination and its packets are dropped.
func TestDestinationOfTheRelaysFamily(t *testing.T) {
	v4 := netip.MustParseAddrPort("192.0.2.1:4000")
	mapped := netip.MustParseAddrPort("[::ffff:192.0.2.1]:4000")
	v6 := netip.MustParseAddrPort("[2001:db8::1]:4000")
	for _, c := range []struct {
		relayV4 bool
		addr    netip.AddrPort
		family  uint16 // 0: no destination
		size    uint32
	}{
		{true, v4, unix.AF_INET, unix.SizeofSockaddrInet4},
		{true, mapped, unix.AF_INET, unix.SizeofSockaddrInet4},
		{true, v6, 0, 0},
		{true, netip.AddrPort{}, 0, 0},
		{false, v6, unix.AF_INET6, unix.SizeofSockaddrInet6},
		{false, v4, 0, 0},
		{false, mapped, 0, 0},
		{false, netip.AddrPort{}, 0, 0},
	} {
		d := (&Relay{v4: c.relayV4}).newDestination(c.addr)
		switch {
		case c.family == 0 && d != nil:
			t.Errorf("IPv4 relay %v, %s: a destination, want none", c.relayV4, c.addr)
		case c.family == 0:
		case d == nil:
			t.Errorf("IPv4 relay %v, %s: no destination", c.relayV4, c.addr)
		case *(*uint16)(d.to.Pointer()) != c.family || d.to.Len() != c.size || d.addr != c.addr:
			t.Errorf("IPv4 relay %v, %s: family %d, %d bytes, for %s; want %d, %d",
				c.relayV4, c.addr, *(*uint16)(d.to.Pointer()), d.to.Len(), d.addr, c.family, c.size)
		}
	}
}
