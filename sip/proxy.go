package sip

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// Dialer is a configured source of calls.
type Dialer struct {
	Name      string
	Sources   []netip.Prefix
	Automated bool
	Seller    string
	// Auth, when set, makes the dialer's new INVITEs prove these credentials
	// (SIP digest, auth.go) besides coming from its sources.
	Auth *Credentials
	// AgentSignal, when set, is how the dialer says a live agent came on
	// an anchored call; the proxy tells the relay (MediaAnchor.AgentSignal).
	AgentSignal *AgentSignal
}

// Listener is one address the proxy listens on.
type Listener struct {
	Network string // "udp", "tcp" or "tls"
	Addr    string // "127.0.0.1:5060"
}

// Config is what the proxy needs to run.
type Config struct {
	Listen []Listener
	// Carrier is the SIP URI of the carrier's next hop, e.g. sip:127.0.0.1:5070;
	// a sips: URI or ;transport=tls reaches it over TLS (default port 5061).
	Carrier          string
	CarrierTransport string // "udp", "tcp" or "tls"; the URI's scheme or transport parameter wins
	// TLS is the server side of the tls listeners: the proxy's certificate
	// and, to check dialers' client certificates, ClientAuth and ClientCAs.
	// Required with a tls listener.
	TLS *tls.Config
	// CarrierTLS is how the proxy connects to a TLS carrier: RootCAs verify
	// its certificate (nil: the system's roots), ServerName is the name it
	// must carry (empty: its IP address), Certificates are presented when it
	// asks for a client certificate.
	CarrierTLS *tls.Config
	// CarrierSources are the addresses the carrier sends from besides its
	// own (an SBC cluster's); its answers and in-dialog requests from any
	// other address are a stranger's.
	CarrierSources []netip.Prefix
	// LargeRequestsOverUDP keeps requests too large for UDP (over 1300 bytes,
	// RFC 3261 §18.1.1) on UDP for a peer reached over UDP, for a UDP-only
	// carrier; by default they go over TCP.
	LargeRequestsOverUDP bool
	Dialers              []Dialer
	CampaignHeader       string
	DialModeHeader       string
	SellerHeader         string
	PrerecordedHeader    string
	// CampaignSellers maps a campaign id to its seller.
	CampaignSellers map[string]string
	DefaultRegion   string
	Limits          Limits
	// DropStrangers drops requests from sources that may not send them
	// unanswered; by default they get 403. Either way they are counted.
	DropStrangers bool
	// RefusalLogInterval is how often a summary of what was refused is logged
	// (default 10s): one line per interval, never one per message.
	RefusalLogInterval time.Duration
	Logger             *slog.Logger
	// Now is the clock calls are decided by and their answer and end are
	// timed by (default time.Now); tests set it.
	Now func() time.Time
	// OnCallEnd, when set, receives the end of every allowed call: its final
	// status, when it was answered and ended, and who ended it.
	OnCallEnd CallEndSink
	// Admit, when set, is asked about every new call before the policy
	// decides it: a non-empty Unavailable (UnavailableUnrecorded,
	// UnavailableCluster) answers 503 Service Unavailable with Retry-After
	// (RFC 3261 §21.5.4) and X-Gatekeeper-Unavailable naming it, and the
	// call is neither decided nor reported to the DecisionSink. The
	// gatekeeper refuses calls it could not record so.
	Admit func(call policy.Call) Unavailable
	// RouteKey (RouteKeySize bytes) seals the dialog's sides into the
	// Record-Route entries, so that a process started with the same key
	// routes the in-dialog requests of calls set up before it (routekey.go).
	// Without one, New draws a key of its own, good for this process only.
	RouteKey []byte
	// Ready, when set, says whether a new call could be decided now; while it
	// says no (and while the proxy starts or drains), an OPTIONS to the
	// gatekeeper gets 503 with Retry-After, which a dispatcher in front
	// probes (RFC 3261 §11: the answer an INVITE would get).
	Ready func() bool
	// Media, when set, anchors the media of the calls MediaChoice names:
	// the SDP of INVITE, 18x, 2xx, ACK, re-INVITE, UPDATE and PRACK goes
	// through it, and a call's end releases it. Nil leaves media alone.
	Media       MediaAnchor
	MediaChoice MediaChoice
	// SinkWaits says the DecisionSink waits for its record to reach the disk
	// (audit.sync: always): the carrier's final answers are then relayed
	// from a goroutine of their own, not from the reading of the socket.
	SinkWaits bool
	// TimerC is how long a forwarded INVITE or re-INVITE may ring without a
	// final answer before the proxy cancels it (RFC 3261 §16.6 step 11: more
	// than 3 minutes; default 181 s). Tests set less.
	TimerC time.Duration
}

// Decider is the policy, seen from the proxy.
type Decider interface {
	Decide(ctx context.Context, call policy.Call) policy.Decision
	// Forwarded tells the policy that an allowed call went out to the carrier
	// (frequency caps count forwarded calls only).
	Forwarded(ctx context.Context, call policy.Call) error
}

// DecisionSink receives every decision with the SIP status that ended the
// INVITE: the reject code sent, or the final answer relayed from the carrier.
// The final answer the gatekeeper sends or relays (a reject, the carrier's
// answer, 503 when the carrier cannot be reached) leaves only once the sink
// has returned, so a sink that waits until its record is on disk holds the
// answer back until then. (A timeout's 408 and sipgo's own 487 to a CANCEL
// go first.)
type DecisionSink func(call policy.Call, d policy.Decision, status int)

// Proxy is the running SIP proxy.
type Proxy struct {
	cfg       Config
	decider   Decider
	sink      DecisionSink
	log       *slog.Logger
	ua        *sipgo.UserAgent
	server    *sipgo.Server
	client    *sipgo.Client
	clientTxs *clientTxs
	carrier   carrierHop
	own       map[netip.AddrPort]bool // every listen address, to recognize our own Route entries and Vias
	// listens is our address per transport and IP family: each side of a call
	// sees the proxy in its own family (Via, Record-Route, source address).
	listens  map[family]netip.AddrPort
	dialogs  *dialogTable
	parser   *sip.Parser
	pending  pendingInvites // new INVITEs in progress, for the CANCELs cancelTap takes
	finished finishedTxs    // finished UDP transactions, for the retransmissions cancelTap answers

	// admission counts the new INVITEs in progress; once draining, none is admitted.
	admission struct {
		sync.Mutex
		draining bool
		active   int
	}
	// unrecorded holds the decided calls whose decision is not recorded yet.
	unrecorded struct {
		sync.Mutex
		calls map[*callState]struct{}
	}
	// relays are the INVITEs waiting for the carrier, which Cut gives up.
	relays relays

	invites, invalid atomic.Uint64
	refused          refusals
	limiter          *sourceLimiter
	nonces           nonces
	ready            chan struct{}
	listenMu         sync.Mutex
	listeners        []listener // opened by Listen; closeListeners takes them
	// branchMark starts every Via branch this process sends (ownBranch), so
	// that it tells its own transactions from an earlier process's.
	branchMark string
	macs       sync.Pool // HMAC-SHA256s keyed with Config.RouteKey (routekey.go)
}

// family names one of our listeners: a transport and an IP version.
type family struct {
	transport string // "udp", "tcp" or "tls"
	ipv6      bool
}

func familyOf(transport string, ip netip.Addr) family {
	return family{transport, ip.Unmap().Is6()}
}

// carrierHop is the resolved next hop for outbound calls.
type carrierHop struct {
	addr      string // ip:port
	ip        netip.Addr
	transport string // "udp", "tcp" or "tls"
}

// refuseDNS makes every name lookup fail: the proxy never resolves a host
// name taken from a received message (a proxy that does is a reflector).
var refuseDNS = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("name resolution is disabled")
}}

// New builds a proxy; Serve starts it.
func New(cfg Config, decider Decider, record DecisionSink) (*Proxy, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TimerC <= 0 {
		cfg.TimerC = defaultTimerC
	}
	if cfg.RefusalLogInterval <= 0 {
		cfg.RefusalLogInterval = 10 * time.Second
	}
	switch len(cfg.RouteKey) {
	case 0:
		cfg.RouteKey = NewRouteKey()
	case RouteKeySize:
	default:
		return nil, fmt.Errorf("route key: %d bytes, want %d", len(cfg.RouteKey), RouteKeySize)
	}
	carrier, err := parseCarrier(cfg.Carrier, cfg.CarrierTransport)
	if err != nil {
		return nil, err
	}
	liftUDPLimit.Do(func() { sip.UDPMTUSize = 1 << 20 })
	p := &Proxy{
		cfg: cfg, decider: decider, sink: record, log: cfg.Logger,
		carrier: carrier, own: map[netip.AddrPort]bool{}, listens: map[family]netip.AddrPort{},
		dialogs: newDialogTable(), parser: newParser(), ready: make(chan struct{}),
		limiter: newSourceLimiter(cfg.Limits.PerSource), nonces: newNonces(),
		branchMark: sip.RFC3261BranchMagicCookie + "." + rand.Text()[:8] + ".",
	}
	p.unrecorded.calls = map[*callState]struct{}{}
	quiet := p.quiet
	var hostname string
	for _, l := range cfg.Listen {
		ap, err := netip.ParseAddrPort(l.Addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s://%s: want IP:PORT: %w", l.Network, l.Addr, err)
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		if hostname == "" {
			hostname = ap.Addr().String()
		}
		if f := familyOf(l.Network, ap.Addr()); !p.listens[f].IsValid() {
			p.listens[f] = ap
		}
		p.own[ap] = true
		if l.Network == "tls" && cfg.TLS == nil {
			return nil, fmt.Errorf("listen tls://%s: no certificate (Config.TLS)", l.Addr)
		}
	}
	if !p.listens[familyOf(carrier.transport, carrier.ip)].IsValid() {
		return nil, fmt.Errorf("the carrier is reached over %s at %s, but the proxy does not listen on %s in that IP family", carrier.transport, carrier.ip, carrier.transport)
	}
	p.ua, err = sipgo.NewUA(
		sipgo.WithUserAgent("gatekeeper"),
		sipgo.WithUserAgenTLSConfig(cfg.CarrierTLS), // nil: sipgo dials with an empty config, the system roots
		sipgo.WithUserAgentHostname(hostname),
		sipgo.WithUserAgentDNSResolver(refuseDNS),
		sipgo.WithUserAgentParser(p.parser),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(quiet(cfg.Logger)),
			// Answers to the requests the proxy sends (clientTxs) that came
			// over TCP or TLS, and those that arrive after their transaction
			// ended: 2xx are relayed, the rest dropped.
			sip.WithTransactionLayerUnhandledResponseHandler(func(res *sip.Response) {
				if !p.clientTxs.receive(res) {
					p.relayStray2xx(res)
				}
			}),
		),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet(cfg.Logger))),
	)
	if err != nil {
		return nil, err
	}
	p.server, err = sipgo.NewServer(p.ua, sipgo.WithServerLogger(quiet(cfg.Logger)))
	if err != nil {
		return nil, err
	}
	p.client, err = sipgo.NewClient(p.ua, sipgo.WithClientHostname(hostname), sipgo.WithClientLogger(quiet(cfg.Logger)))
	if err != nil {
		return nil, err
	}
	p.clientTxs = newClientTxs(p.ua.TransportLayer(), quiet(cfg.Logger))
	// The handlers replace sipgo's Server's, which ends every transaction
	// as its handler returns (dispatch).
	p.ua.TransactionLayer().OnRequest(p.dispatch)
	return p, nil
}

// quiet keeps sipgo's own logging to warnings and above, its per-message
// debug lines would cost more than the proxying itself, and to one line per
// message text per refusal summary (logBudget).
func (p *Proxy) quiet(l *slog.Logger) *slog.Logger {
	return slog.New(logBudget{levelFloor{l.Handler(), slog.LevelWarn}, &p.refused})
}

type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(attrs), h.min}
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(name), h.min}
}

// listener is a listen address opened (Listen) and how sipgo serves it.
type listener struct {
	socket  io.Closer
	serve   func() error
	started <-chan struct{} // closed once sipgo can send from it
}

// Listen opens every configured listen address, so that one in use (or
// not the host's) fails before anything else starts; Serve then serves
// them, and Close closes them if Serve never runs. Serve opens them itself
// when Listen was not called. It returns the first address's error.
func (p *Proxy) Listen() error {
	var opened []listener
	for _, l := range p.cfg.Listen {
		socket, serve, started, err := p.listen(l)
		if err != nil {
			for _, o := range opened {
				o.socket.Close()
			}
			return err
		}
		opened = append(opened, listener{socket, serve, started})
	}
	p.listenMu.Lock()
	p.listeners = opened
	p.listenMu.Unlock()
	return nil
}

func (p *Proxy) openListeners() []listener {
	p.listenMu.Lock()
	defer p.listenMu.Unlock()
	return p.listeners
}

// closeListeners closes the listeners opened, once: Serve's return and
// Close both call it.
func (p *Proxy) closeListeners() {
	p.listenMu.Lock()
	opened := p.listeners
	p.listeners = nil
	p.listenMu.Unlock()
	for _, l := range opened {
		l.socket.Close()
	}
}

// Serve listens on every configured address until ctx ends.
func (p *Proxy) Serve(ctx context.Context) error {
	if p.openListeners() == nil {
		if err := p.Listen(); err != nil {
			return err
		}
	}
	opened := p.openListeners()
	defer p.closeListeners()
	errs := make(chan error, len(opened))
	for _, l := range opened {
		go func() { errs <- l.serve() }()
	}
	for _, l := range opened {
		select {
		case <-l.started:
		case err := <-errs:
			return err
		case <-ctx.Done():
			return nil
		}
	}
	close(p.ready)
	go p.sweepDialogs(ctx, time.Minute, dialogMaxAge)
	reportCtx, stopReports := context.WithCancel(ctx)
	reported := make(chan struct{})
	go func() {
		p.refused.report(reportCtx, p.log, p.cfg.RefusalLogInterval)
		close(reported)
	}()
	defer func() { stopReports(); <-reported }() // the last summary is logged before Serve returns
	select {
	case err := <-errs:
		if err != nil && ctx.Err() == nil {
			return err
		}
	case <-ctx.Done():
	}
	return nil
}

// listen opens a listen address behind a cancel tap (cancel.go) and
// returns the socket, how sipgo serves it, and a channel closed once sipgo
// can send from it: a UDP socket is taken for sending by sipgo's Serve just
// before it first reads it, and until then the proxy's own requests could
// not leave from it.
func (p *Proxy) listen(l Listener) (io.Closer, func() error, <-chan struct{}, error) {
	started := make(chan struct{})
	switch l.Network {
	case "tcp", "tls":
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			return nil, nil, nil, err
		}
		close(started) // connections are taken for sending as they are made
		if l.Network == "tcp" {
			return ln, func() error { return p.server.ServeTCP(cancelTapListener{ln, p, &retry{}}) }, started, nil
		}
		return ln, func() error { return p.server.ServeTLS(cancelTapListener{tlsListener{ln, p.cfg.TLS, p}, p, &retry{}}) }, started, nil
	}
	pc, err := listenUDP(l.Addr)
	if err != nil {
		return nil, nil, nil, err
	}
	tap := cancelTap{PacketConn: pc, p: p, reading: sync.OnceFunc(func() { close(started) }), retry: &retry{}}
	return pc, func() error { return p.server.ServeUDP(tap) }, started, nil
}

// udpReadBuffer is the receive buffer asked for a UDP listener, in bytes.
// One socket takes every datagram of every call (seven a call at the
// proxy's side toward the dialer and the carrier), so the buffer is what
// rides out a pause of the process (a garbage collection, a busy machine):
// at 1,000 calls/s the default 208 KB fills in about 30 ms, and what comes
// after is dropped and must be retransmitted. Linux caps it at
// net.core.rmem_max.
const udpReadBuffer = 4 << 20

// listenUDP opens a UDP listener (udpSocket) with a receive buffer of
// udpReadBuffer bytes, or as much of it as the system allows.
func listenUDP(addr string) (*udpSocket, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	uc := pc.(*net.UDPConn)
	// An error here leaves the system's default, which still works.
	_ = uc.SetReadBuffer(udpReadBuffer)
	s, err := newUDPSocket(uc)
	if err != nil {
		uc.Close()
		return nil, err
	}
	return s, nil
}

// Ready is closed once every listener is up.
func (p *Proxy) Ready() <-chan struct{} { return p.ready }

// Drain stops taking new calls (they get 503) and waits until the INVITE
// transactions in flight have ended and the calls they set up have hung up
// (their BYE still passes), or until ctx expires.
func (p *Proxy) Drain(ctx context.Context) error {
	p.admission.Lock()
	p.admission.draining = true
	p.admission.Unlock()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		active := p.activeInvites()
		if active == 0 && p.dialogs.len() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d calls still up: %w", p.dialogs.len()+active, ctx.Err())
		case <-tick.C:
		}
	}
}

// Serving reports whether a new call would be taken now: the listeners are
// up, the proxy is not draining, and Config.Ready, when set, says yes.
func (p *Proxy) Serving() bool {
	select {
	case <-p.ready:
	default:
		return false
	}
	p.admission.Lock()
	draining := p.admission.draining
	p.admission.Unlock()
	return !draining && (p.cfg.Ready == nil || p.cfg.Ready())
}

// admission results.
const (
	admitted = iota
	draining
	overloaded // Limits.InFlight INVITEs are in progress
)

// admit counts a new INVITE in, unless the proxy is draining or has as many
// in progress as Limits.InFlight.
func (p *Proxy) admit() int {
	p.admission.Lock()
	defer p.admission.Unlock()
	switch {
	case p.admission.draining:
		return draining
	case p.cfg.Limits.InFlight > 0 && p.admission.active >= p.cfg.Limits.InFlight:
		return overloaded
	}
	p.admission.active++
	return admitted
}

// activeInvites counts the new INVITEs being handled.
func (p *Proxy) activeInvites() int {
	p.admission.Lock()
	defer p.admission.Unlock()
	return p.admission.active
}

func (p *Proxy) release() {
	p.admission.Lock()
	p.admission.active--
	p.admission.Unlock()
}

// Close ends the transactions and releases the transports.
func (p *Proxy) Close() error {
	p.clientTxs.terminateAll()
	p.closeListeners() // opened by Listen, for a Serve that never ran
	return p.ua.Close()
}

// dialerFor names the dialer whose sources hold addr (ip:port).
func (p *Proxy) dialerFor(addr string) (*Dialer, bool) {
	ip, ok := addrIP(addr)
	if !ok {
		return nil, false
	}
	return p.dialerOf(ip)
}

// dialerOf names the dialer whose sources hold ip.
func (p *Proxy) dialerOf(ip netip.Addr) (*Dialer, bool) {
	for i := range p.cfg.Dialers {
		for _, pr := range p.cfg.Dialers[i].Sources {
			if pr.Contains(ip) {
				return &p.cfg.Dialers[i], true
			}
		}
	}
	return nil, false
}

func addrIP(addr string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// parseCarrier reads the carrier URI; it must name an IP address, since the
// proxy resolves no names.
func parseCarrier(uri, transport string) (carrierHop, error) {
	var u sip.Uri
	if err := sip.ParseUri(uri, &u); err != nil {
		return carrierHop{}, fmt.Errorf("carrier %q: %w", uri, err)
	}
	ip, ok := uriAddr(u)
	if !ok {
		return carrierHop{}, fmt.Errorf("carrier %q: the host must be an IP address", uri)
	}
	if t, ok := u.UriParams.Get("transport"); ok && t != "" {
		transport = strings.ToLower(t)
	}
	if u.IsEncrypted() {
		transport = "tls" // RFC 3261 §26.2.2: a SIPS URI is reached over TLS
	}
	if transport == "" {
		transport = "udp"
	}
	port := u.Port
	if port == 0 {
		port = defaultPort(transport)
	}
	if port > 65535 {
		return carrierHop{}, fmt.Errorf("carrier %q: port %d is not from 1 to 65535", uri, port)
	}
	return carrierHop{addr: netip.AddrPortFrom(ip, uint16(port)).String(), ip: ip, transport: transport}, nil
}

// Stats are the proxy's running counts, for metrics.
type Stats struct {
	Invites uint64 // new INVITEs from dialer sources that passed validation
	Invalid uint64 // requests refused by validation (4xx/5xx before any routing)
	// Refused counts the messages refused (403, 503) or dropped, by reason.
	Refused map[Reason]uint64
	Dialogs int // calls the dialog table holds now
	// InFlight counts the new INVITEs in progress: admitted, not yet answered finally.
	InFlight int
}

// Stats returns the current counts.
func (p *Proxy) Stats() Stats {
	refused := map[Reason]uint64{}
	for _, r := range Reasons() {
		refused[r] = p.refused.count(r)
	}
	return Stats{Invites: p.invites.Load(), Invalid: p.invalid.Load(), Refused: refused, Dialogs: p.dialogs.len(), InFlight: p.activeInvites()}
}
