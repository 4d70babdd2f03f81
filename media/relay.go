package media

import (
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"golang.org/x/sys/unix"

	"github.com/gatekeeper-sip/gatekeeper/internal/sockaddr"
)

// Side is the side of a call an SDP body or a packet comes from.
type Side int

const (
	Dialer  Side = iota // the call center's side
	Carrier             // the carrier's side
)

func (s Side) String() string {
	if s == Dialer {
		return "dialer"
	}
	return "carrier"
}

// Other is the other side.
func (s Side) Other() Side { return 1 - s }

// DefaultIdleTimeout is how long an anchored call may go without a packet
// before its ports are freed (as rtpengine's --timeout).
const DefaultIdleTimeout = 60 * time.Second

// Config is what a Relay needs.
type Config struct {
	// Address is the IP the relay binds its sockets to and writes into the
	// SDP it rewrites: an address both the dialers and the carrier reach.
	Address netip.Addr
	// PortLow and PortHigh bound the UDP ports it uses, both included; each
	// anchored stream takes two pairs (RTP on an even port, RTCP on the next).
	PortLow, PortHigh int
	// IdleTimeout frees a call's ports once it went this long without a
	// packet in either direction, counted from when both sides gave their
	// SDP (default DefaultIdleTimeout).
	IdleTimeout time.Duration
	Logger      *slog.Logger
}

// Stats counts what a relay did since it started.
type Stats struct {
	Sessions   int    // calls anchored now
	PortsInUse int    // ports bound now (four per stream)
	Packets    uint64 // RTP and RTCP packets relayed
	Bytes      uint64 // their UDP payload, in bytes
	Dropped    uint64 // packets not relayed: not RTP on an RTP port, or no address to send to (hold, SDP not seen)
	IdleEnded  uint64 // sessions ended by IdleTimeout
}

// Relay anchors the media of calls: see the package documentation.
type Relay struct {
	cfg   Config
	log   *slog.Logger
	ports *portPool
	epoch time.Time
	v4    bool // the relay's sockets are IPv4 (else IPv6)
	// workers relay the packets, each of the streams given to it; legs maps
	// a socket's port, less PortLow, to its leg while the socket is open.
	workers []*worker
	legs    []atomic.Pointer[leg]

	mu       sync.Mutex
	sessions map[string]*session
	// released keeps the Call-IDs Release ended, with when (relay clock),
	// for IdleTimeout: SDP of theirs that comes late (a retransmitted 2xx,
	// an answer crossing the hang-up) opens no new session, which with
	// one side's SDP only would never time out and would hold its ports.
	released map[string]int64
	closed   bool
	done     chan struct{}
	messages map[string]*fingerprint // campaign -> its safe-harbor message (SafeHarbor)

	packets, bytes, dropped, idleEnded atomic.Uint64
}

// New checks cfg and starts a relay; Close stops it.
func New(cfg Config) (*Relay, error) {
	if !cfg.Address.IsValid() || cfg.Address.IsUnspecified() {
		return nil, fmt.Errorf("address %v: give the IP the dialers and the carrier send media to", cfg.Address)
	}
	if cfg.PortLow < 1 || cfg.PortHigh > 65535 || cfg.PortHigh-cfg.PortLow < 3 {
		return nil, fmt.Errorf("ports %d-%d: give a range within 1-65535 of at least four ports", cfg.PortLow, cfg.PortHigh)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Relay{
		cfg: cfg, log: cfg.Logger, ports: newPortPool(cfg.PortLow, cfg.PortHigh), epoch: time.Now(),
		v4: cfg.Address.Unmap().Is4(), legs: make([]atomic.Pointer[leg], cfg.PortHigh-cfg.PortLow+1),
		sessions: map[string]*session{}, released: map[string]int64{}, done: make(chan struct{}),
	}
	for range runtime.GOMAXPROCS(0) {
		w, err := newWorker()
		if err != nil {
			r.halt()
			return nil, fmt.Errorf("epoll: %w", err)
		}
		r.workers = append(r.workers, w)
		go r.run(w)
	}
	go r.sweep()
	return r, nil
}

// Rewrite anchors the call callID's media described by body, an SDP that
// came from side (an offer or an answer: INVITE, 18x, 2xx, ACK, UPDATE,
// PRACK), and returns the SDP to pass on to the other side: its c= lines
// (but those on hold) name the relay's address, each active m= line the
// port the relay receives that stream on from the other side, and a=rtcp
// the port after it. The first call for a Call-ID opens its session, unless
// Release ended the Call-ID less than IdleTimeout ago. Errors are ErrNotSDP
// (the body cannot be rewritten), ErrNoPorts, ErrReleased and ErrClosed; on
// error nothing of the call changed but ports taken for it before.
func (r *Relay) Rewrite(callID string, side Side, body []byte) ([]byte, error) {
	desc, err := parseSDP(body)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	if _, ended := r.released[callID]; ended {
		r.mu.Unlock()
		return nil, ErrReleased
	}
	s := r.sessions[callID]
	if s == nil {
		s = &session{relay: r, callID: callID, tracks: [2]*track{newTrack(Dialer), newTrack(Carrier)}}
		r.sessions[callID] = s
	}
	r.mu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed { // released or idle while this SDP came
		return nil, ErrClosed
	}
	descs := desc.streams()
	ports := make([]int, len(descs))
	for i, d := range descs {
		if d.port == 0 {
			continue
		}
		for len(s.streams) <= i {
			// the call's first audio stream is the one analysed
			analysed := len(s.streams) == i && d.audio && !s.analysed
			st, err := r.openStream(s, analysed)
			if err != nil {
				return nil, err
			}
			s.streams = append(s.streams, st)
		}
		s.streams[i].legs[side].expect(d)
		ports[i] = s.streams[i].legs[side.Other()].port
	}
	s.seen[side] = true
	if s.seen[Dialer] && s.seen[Carrier] {
		s.touch()
		s.timed.Store(true)
	}
	return desc.rewrite(r.cfg.Address, ports)
}

// Release ends the call's session, if it has one, frees its ports and
// returns what its media showed about the abandoned-call rule (Verdict);
// a call it never anchored, or released before, gives Verdict{Outcome:
// NotLive}.
func (r *Relay) Release(callID string) Verdict {
	r.mu.Lock()
	s := r.sessions[callID]
	delete(r.sessions, callID)
	if s != nil {
		r.released[callID] = r.now()
	}
	r.mu.Unlock()
	if s == nil {
		return Verdict{Outcome: NotLive}
	}
	s.close("released")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.verdict(time.Now())
}

// Close ends every session and stops the relay.
func (r *Relay) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	all := r.sessions
	r.sessions = nil
	close(r.done)
	r.mu.Unlock()
	for _, s := range all {
		s.close("relay closed")
	}
	r.halt()
}

// halt stops the workers.
func (r *Relay) halt() {
	for _, w := range r.workers {
		w.halt()
	}
}

// Stats returns the relay's counts.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	n := len(r.sessions)
	r.mu.Unlock()
	total := (r.cfg.PortHigh - r.cfg.PortLow + 1 - r.cfg.PortLow%2) / 2
	return Stats{
		Sessions: n, PortsInUse: 2 * (total - r.ports.len()),
		Packets: r.packets.Load(), Bytes: r.bytes.Load(), Dropped: r.dropped.Load(), IdleEnded: r.idleEnded.Load(),
	}
}

// now is the relay's monotonic clock, in nanoseconds since it started.
func (r *Relay) now() int64 { return int64(time.Since(r.epoch)) }

// sweep ends the sessions idle for longer than IdleTimeout.
func (r *Relay) sweep() {
	tick := time.NewTicker(max(r.cfg.IdleTimeout/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-tick.C:
		}
		cutoff := r.now() - int64(r.cfg.IdleTimeout)
		var idle []*session
		r.mu.Lock()
		for id, at := range r.released {
			if at < cutoff {
				delete(r.released, id)
			}
		}
		for id, s := range r.sessions {
			if s.timed.Load() && s.last.Load() < cutoff {
				idle = append(idle, s)
				delete(r.sessions, id)
			}
		}
		r.mu.Unlock()
		for _, s := range idle {
			r.idleEnded.Add(1)
			s.close("no media for " + r.cfg.IdleTimeout.String())
		}
	}
}

// session is one call's media.
type session struct {
	relay  *Relay
	callID string
	last   atomic.Int64 // relay.now() of the last packet, or of the SDP that completed it
	timed  atomic.Bool  // both sides gave SDP: the idle timeout runs

	mu          sync.Mutex
	seen        [2]bool
	streams     []*stream
	closed      bool
	answered    time.Time    // Answered; zero before
	answeredAt  atomic.Int64 // answered on the relay's clock (ns), 0 before
	tracks      [2]*track    // the first audio stream's analysis, by the side the audio comes from
	analysed    bool         // a stream feeds tracks
	campaign    string       // the campaign given with Answered
	agentSignal time.Time    // AgentSignal; zero without
}

func (s *session) touch() { s.last.Store(s.relay.now()) }

func (s *session) close(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	var got [2]uint64
	for _, st := range s.streams {
		for side, l := range st.legs {
			got[side] += l.received.Load()
		}
		st.worker.remove(s.relay, st)
	}
	s.relay.log.Info("media session ended", "call_id", s.callID, "why", why, "streams", len(s.streams),
		"packets_from_dialer", got[Dialer], "packets_from_carrier", got[Carrier])
}

// stream is one m= line of a call: a leg toward each side, both relayed
// by one worker (which lets go of both at once: it never sends from one closed).
type stream struct {
	legs   [2]*leg
	worker *worker
}

// openStream binds a leg toward each side and has the least busy worker
// relay between them; with analysed, the legs feed the session's detection.
func (r *Relay) openStream(s *session, analysed bool) (*stream, error) {
	st := &stream{worker: r.workers[0]}
	for _, w := range r.workers[1:] {
		if w.streams.Load() < st.worker.streams.Load() {
			st.worker = w
		}
	}
	for _, side := range []Side{Dialer, Carrier} {
		l, err := r.openLeg(s, side)
		if err != nil {
			if st.legs[Dialer] != nil {
				st.legs[Dialer].close(r.ports)
			}
			return nil, err
		}
		st.legs[side] = l
	}
	st.legs[Dialer].peer, st.legs[Carrier].peer = st.legs[Carrier], st.legs[Dialer]
	if analysed {
		st.legs[Dialer].track, st.legs[Carrier].track = s.tracks[Dialer], s.tracks[Carrier]
		s.analysed = true
	}
	for _, l := range st.legs {
		r.legs[l.port-r.cfg.PortLow].Store(l)
		r.legs[l.port+1-r.cfg.PortLow].Store(l)
	}
	if err := st.worker.add(st); err != nil {
		st.worker.remove(r, st)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	return st, nil
}

// leg is the relay's pair of sockets facing one side of a stream, and
// where that side receives.
type leg struct {
	session *session
	side    Side
	port    int    // RTP; RTCP is port+1
	fd      [2]int // the sockets: RTP, RTCP
	peer    *leg   // the stream's leg toward the other side
	// dest[0] is where the side receives RTP, dest[1] RTCP; nil: nowhere
	// (not yet known, on hold, or of the other IP family).
	dest [2]atomic.Pointer[destination]
	// latched[i]: dest[i] is the source of a packet from the side, kept
	// until its next SDP.
	latched [2]atomic.Bool
	held    atomic.Bool
	// received counts the packets that came from the side.
	received atomic.Uint64
	// track analyses the side's audio; nil but on the call's first audio stream.
	track *track
}

// openLeg binds the next free pair of ports that can be bound.
func (r *Relay) openLeg(s *session, side Side) (*leg, error) {
	for range r.ports.len() {
		port, ok := r.ports.take()
		if !ok {
			break
		}
		rtpFD, err := r.bind(port)
		if err != nil {
			r.ports.put(port) // in use by another program: try it again later
			continue
		}
		rtcpFD, err := r.bind(port + 1)
		if err != nil {
			unix.Close(rtpFD)
			r.ports.put(port)
			continue
		}
		return &leg{session: s, side: side, port: port, fd: [2]int{rtpFD, rtcpFD}}, nil
	}
	return nil, ErrNoPorts
}

// expect takes where the side receives from its SDP; until a packet from
// the side arrives, the relay sends there.
func (l *leg) expect(d streamDesc) {
	r := l.session.relay
	l.held.Store(d.addr.IsUnspecified())
	l.latched[0].Store(false)
	l.latched[1].Store(false)
	if !d.addr.IsValid() || d.addr.IsUnspecified() {
		l.dest[0].Store(nil)
		l.dest[1].Store(nil)
		return
	}
	rtcp := d.port + 1
	switch {
	case d.mux:
		rtcp = d.port
	case d.rtcp != 0:
		rtcp = d.rtcp
	}
	l.dest[0].Store(r.newDestination(netip.AddrPortFrom(d.addr, uint16(d.port))))
	l.dest[1].Store(r.newDestination(netip.AddrPortFrom(d.addr, uint16(rtcp))))
}

// latch makes src the destination of what goes to the side, once per SDP
// (symmetric RTP: the side receives where it sends from).
func (l *leg) latch(i int, src netip.AddrPort) {
	if l.latched[i].Load() || l.held.Load() {
		return
	}
	l.latched[i].Store(true)
	if d := l.dest[i].Load(); d == nil || d.addr != src {
		l.dest[i].Store(l.session.relay.newDestination(src)) // on the heap only here: once per SDP, not per packet
	}
}

// close closes a leg no worker was given.
func (l *leg) close(pool *portPool) {
	unix.Close(l.fd[0])
	unix.Close(l.fd[1])
	pool.put(l.port)
}

// payload is an RTP packet's payload without its padding (RFC 3550 §5.1).
func payload(h *rtp.Header, b []byte) []byte {
	if h.Padding && len(b) > 0 && int(b[len(b)-1]) <= len(b) {
		return b[:len(b)-int(b[len(b)-1])]
	}
	return b
}

// maxPacket is the largest UDP payload the relay takes; anything larger is cut.
const maxPacket = 1500

// scratch is a worker's memory for the packet at hand.
type scratch struct {
	buf [maxPacket]byte
	src unix.RawSockaddrAny // where it came from
	h   rtp.Header
}

// relay passes one packet the side sent to l's socket i (0 RTP, 1 RTCP)
// on to the other side, from the other leg's socket of the same kind,
// unchanged. It allocates nothing.
func (r *Relay) relay(l *leg, i int, sc *scratch) {
	buf, h := sc.buf[:], &sc.h
	n, errno := recvfrom(l.fd[i], buf, &sc.src)
	if errno != 0 || n == 0 {
		return // EAGAIN: another read took it; an empty datagram is not media
	}
	s := l.session
	// RTP ports take RTP (and RTCP multiplexed on them, whose first
	// bytes read as an RTP header too); anything else is dropped.
	now := r.now()
	if i == 0 {
		hdr, err := h.Unmarshal(buf[:n])
		if err != nil || h.Version != 2 {
			r.dropped.Add(1)
			return
		}
		if l.track != nil {
			l.track.packet(h, payload(h, buf[hdr:n]), now, s.answeredAt.Load())
		}
	}
	l.received.Add(1)
	s.last.Store(now)
	l.latch(i, sockaddr.AddrPort(&sc.src))
	dest := l.peer.dest[i].Load()
	if dest == nil || sendto(l.peer.fd[i], buf[:n], dest) != 0 {
		r.dropped.Add(1)
		return
	}
	r.packets.Add(1)
	r.bytes.Add(uint64(n))
}
