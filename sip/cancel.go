package sip

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// A proxy answers a CANCEL with 200, cancels downstream and relays the
// carrier's final answer, normally 487 (RFC 3261 §16.10, §16.7: the best
// answer received is forwarded). sipgo v1.7.3's transaction layer instead
// answers a CANCEL that matches an INVITE server transaction with 200 and a
// 487 of its own, with a To tag of its own, before any handler runs; the
// carrier's 487 then has nowhere to go. sipgo offers no hook ahead of its
// transaction layer, so the proxy serves sipgo its own sockets and takes the
// CANCELs for the INVITEs it handles out of what it reads (cancelTap); every
// other message passes unchanged. A CANCEL that comes before the INVITE's
// handler has registered the INVITE still goes the sipgo way.

// pendingInvites are the new INVITEs in progress, by cancelKey.
type pendingInvites struct {
	mu    sync.Mutex
	byKey map[string]pendingInvite
}

type pendingInvite struct {
	call   canceller
	source netip.Addr // a CANCEL must come from where the INVITE came from
}

// canceller takes the CANCEL of an INVITE in progress: a new call's
// (inviteCall) or a re-INVITE's (inDialogRelay). It must not wait: the
// socket's reader calls it (takeCancel).
type canceller interface{ cancel(bySipgo bool) }

// add registers an INVITE in progress; the returned func removes it.
func (t *pendingInvites) add(req *sip.Request, c canceller) func() {
	key := cancelKey(req)
	src, _ := addrIP(req.Source())
	t.mu.Lock()
	if t.byKey == nil {
		t.byKey = map[string]pendingInvite{}
	}
	t.byKey[key] = pendingInvite{c, src}
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		delete(t.byKey, key)
		t.mu.Unlock()
	}
}

func (t *pendingInvites) get(key string) (pendingInvite, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	inv, ok := t.byKey[key]
	return inv, ok
}

// cancelKey is what a CANCEL shares with the INVITE it cancels (RFC 3261
// §9.1): Call-ID, CSeq number and the top Via (sent-by and branch).
func cancelKey(req *sip.Request) string {
	via := req.Via()
	branch, _ := via.Params.Get("branch")
	return req.CallID().Value() + "\x00" + strconv.FormatUint(uint64(req.CSeq().SeqNo), 10) + "\x00" + via.SentBy() + "\x00" + branch
}

// takeCancel handles msg when it is a CANCEL for an INVITE in progress: it
// answers 200 and tells the INVITE's handler, which cancels downstream. It
// reports whether it took the message.
func (p *Proxy) takeCancel(msg []byte, from net.Addr, transport string) bool {
	if !bytes.HasPrefix(msg, []byte("CANCEL ")) {
		return false
	}
	req, ok := parseRead[*sip.Request](p, msg, from, strings.ToUpper(transport))
	if !ok || validate(req) != nil {
		return false
	}
	inv, ok := p.pending.get(cancelKey(req))
	src, _ := addrIP(req.Source())
	if !ok || src != inv.source {
		return false
	}
	if err := p.server.WriteResponse(sip.NewResponseFromRequest(req, 200, "OK", nil)); err != nil {
		p.log.Warn("answering a CANCEL failed", "call_id", req.CallID().Value(), "error", err)
	}
	inv.call.cancel(false)
	return true
}

// takeAck relays, as it is read from a UDP socket, the ACK of the 2xx that
// answered an INVITE the dialog table holds the call of (the same CSeq
// number, once that 2xx went to the dialer): an ACK for a 2xx has no
// transaction (RFC 3261 §17.1.1.3), yet sipgo v1.7.3 makes a server
// transaction for it, in a goroutine of its own, to hand it to a handler.
// Any other ACK goes to sipgo: the ACK of a non-2xx answer (the dialer's
// 408 or 487 while the carrier still rings, a call that has left the
// table, a re-INVITE's) belongs to sipgo's INVITE server transaction. Only an ACK that surely
// leaves over UDP is taken, as a TCP connect or write could hold the
// socket's reading: of a call whose both sides are reached over UDP, and of
// at most half the UDP limit, which leaves room for what relaying adds (our
// Via, an anchored SDP's addresses) before forward moves it to TCP. It
// reports whether it took the message.
func (p *Proxy) takeAck(msg []byte, from net.Addr) bool {
	if !bytes.HasPrefix(msg, []byte("ACK ")) || len(msg) > udpMaxRequest/2 {
		return false
	}
	callID, seq, ok := dialogOf(msg)
	if !ok || !p.dialogs.hasUDP(callID, seq) {
		return false
	}
	req, ok := parseRead[*sip.Request](p, msg, from, "UDP")
	if !ok {
		return false
	}
	p.onAck(req, nil)
	return true
}

// takeResponse hands an answer read from a UDP socket to the client
// transaction of the proxy's that it answers, as it is read (clientTxs),
// where sipgo would start a goroutine for it. Any other answer (a 2xx sent
// again after its transaction ended) goes to sipgo. It reports whether it
// took the message.
func (p *Proxy) takeResponse(msg []byte, from net.Addr) bool {
	if !bytes.HasPrefix(msg, []byte("SIP/2.0 ")) {
		return false
	}
	res, ok := parseRead[*sip.Response](p, msg, from, "UDP")
	return ok && p.clientTxs.receive(res)
}

// parseRead parses a message a socket tap read from from over transport
// (as sipgo names it: "UDP", "TCP", "TLS"), as sipgo's transport layer
// would: its source and transport set. It
// reports false for a message that does not parse or is not an M.
func parseRead[M interface {
	*sip.Request | *sip.Response
	sip.Message
}](p *Proxy, msg []byte, from net.Addr, transport string) (M, bool) {
	parsed, err := p.parser.ParseSIP(msg)
	if err != nil {
		return nil, false
	}
	m, ok := parsed.(M)
	if !ok {
		return nil, false
	}
	m.SetSource(from.String())
	m.SetTransport(transport)
	return m, true
}

// cancelTap is a UDP socket that takes CANCELs, answers to the proxy's
// requests and 2xx ACKs out before sipgo reads them, and answers
// retransmissions for finished transactions (finishedTxs).
type cancelTap struct {
	net.PacketConn
	p *Proxy
	// reading is called as every read starts: sipgo reads the socket once
	// it can send from it.
	reading func()
	retry   *retry
}

func (c cancelTap) ReadFrom(b []byte) (int, net.Addr, error) {
	c.reading()
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil && !errors.Is(err, net.ErrClosed) {
			c.retry.after(c.p.log, "reading a UDP socket", err)
			continue
		}
		if err != nil {
			return n, addr, err
		}
		c.retry.wait = 0
		answer := func(res []byte) error {
			_, err := c.PacketConn.WriteTo(res, addr)
			return err
		}
		if !c.p.known(netIP(addr)) {
			c.p.screenStranger(b[:n], addr, answer)
			continue
		}
		if taken, resend := c.p.finished.noteReceived(b[:n]); taken {
			if resend != nil {
				answer(resend)
			}
			continue
		}
		if !c.p.takeResponse(b[:n], addr) && !c.p.takeCancel(b[:n], addr, "udp") &&
			!c.p.throttle(b[:n], addr, answer) && !c.p.takeAck(b[:n], addr) {
			return n, addr, nil
		}
	}
}

// retry is how a listener's one reader (UDP) or acceptor (TCP, TLS) goes
// on after a socket error other than a closed socket: ENOBUFS or ENOMEM
// (the kernel short of memory), EMFILE (out of file descriptors, under a
// flood of connections). sipgo would stop reading or accepting, and the
// listener with it. The error is logged once per errorLogInterval while
// they go on, and the wait before trying again doubles from 5 ms to 1 s,
// so that an error that lasts does not spin.
type retry struct {
	wait   time.Duration
	logged time.Time
}

// errorLogInterval bounds the log lines of a socket error that lasts.
const errorLogInterval = 10 * time.Second

func (r *retry) after(log *slog.Logger, op string, err error) {
	if time.Since(r.logged) >= errorLogInterval {
		r.logged = time.Now()
		log.Error(op+" failed; trying again", "error", err)
	}
	r.wait = min(max(2*r.wait, 5*time.Millisecond), time.Second)
	time.Sleep(r.wait)
}

// WriteTo sends a datagram, remembering the transaction it finishes.
func (c cancelTap) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.p.finished.noteSent(b)
	return c.PacketConn.WriteTo(b, addr)
}

// cancelTapListener accepts TCP connections whose streams are cut into
// messages, so that CANCELs can be taken out (cancelTapConn).
type cancelTapListener struct {
	net.Listener
	p     *Proxy
	retry *retry
}

func (l cancelTapListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil && !errors.Is(err, net.ErrClosed) {
			l.retry.after(l.p.log, "accepting a connection", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		l.retry.wait = 0
		stranger := !l.p.known(netIP(c.RemoteAddr()))
		if stranger && l.p.cfg.DropStrangers {
			l.p.refused.add(Stranger, c.RemoteAddr().String())
			c.Close()
			continue
		}
		return &cancelTapConn{Conn: c, p: l.p, buf: make([]byte, 64<<10), stranger: stranger}, nil
	}
}

// maxHeaderBytes bounds the header section the tap holds while it waits for
// its end; a longer one passes on as it is, for sipgo to refuse.
const maxHeaderBytes = 64 << 10

// cancelTapConn frames the stream (header section, then Content-Length
// bytes of body, RFC 3261 §18.3) and hands sipgo everything but the CANCELs
// takeCancel takes.
type cancelTapConn struct {
	net.Conn
	p    *Proxy
	buf  []byte // read buffer
	in   []byte // read, not yet framed
	out  []byte // framed, for sipgo
	body int    // body bytes of the current message still to pass
	err  error  // the read error to report once out is empty
	// stranger: the peer is no dialer's and not the carrier's; its messages
	// go to screenStranger, none to sipgo.
	stranger bool
}

func (c *cancelTapConn) Read(b []byte) (int, error) {
	for len(c.out) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		n, err := c.Conn.Read(c.buf)
		c.in = append(c.in, c.buf[:n]...)
		c.frame()
		c.err = err
	}
	n := copy(b, c.out)
	c.out = c.out[n:]
	return n, nil
}

// frame moves what is complete from in to out.
func (c *cancelTapConn) frame() {
	for len(c.in) > 0 {
		switch {
		case c.body > 0:
			k := min(c.body, len(c.in))
			c.pass(k)
			c.body -= k
		case c.in[0] == '\r' || c.in[0] == '\n':
			if c.stranger {
				c.in = c.in[1:]
				continue
			}
			c.pass(1) // keepalives between messages (RFC 5626 §3.5.1)
		default:
			end := bytes.Index(c.in, []byte("\r\n\r\n"))
			if end < 0 {
				if len(c.in) > maxHeaderBytes {
					if c.stranger {
						c.hangUp()
						return
					}
					c.pass(len(c.in))
				}
				return
			}
			head := end + 4
			length := contentLength(c.in[:head])
			if c.stranger {
				if head+length > maxHeaderBytes {
					c.hangUp()
					return
				}
				if head+length > len(c.in) {
					return
				}
				c.p.screenStranger(c.in[:head+length], c.RemoteAddr(), c.answer)
				c.in = c.in[head+length:]
				continue
			}
			if msg := c.in[:min(head+length, len(c.in))]; head+length <= len(c.in) &&
				(c.p.takeCancel(msg, c.RemoteAddr(), c.transport()) || c.p.throttle(msg, c.RemoteAddr(), c.answer)) {
				c.in = c.in[head+length:]
				continue
			}
			c.pass(head)
			c.body = length
		}
	}
}

// hangUp ends a stranger's connection whose message is too large to be one
// worth reading: what it sent is counted as Unparsable.
func (c *cancelTapConn) hangUp() {
	c.p.refused.add(Unparsable, c.RemoteAddr().String())
	c.in = nil
	c.Conn.Close()
}

// answer writes a stateless answer to the peer.
func (c *cancelTapConn) answer(res []byte) error {
	_, err := c.Conn.Write(res)
	return err
}

// transport names the connection's transport: "tls" under a tls listener.
func (c *cancelTapConn) transport() string {
	if _, ok := c.Conn.(*tlsConn); ok {
		return "tls"
	}
	return "tcp"
}

func (c *cancelTapConn) pass(n int) {
	c.out = append(c.out, c.in[:n]...)
	c.in = c.in[n:]
}

// contentLength reads the Content-Length (or l) header of a header section; 0 without one.
func contentLength(head []byte) int {
	for _, line := range bytes.Split(head, []byte("\r\n"))[1:] {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch strings.ToLower(string(bytes.TrimSpace(name))) {
		case "content-length", "l":
			n, err := strconv.Atoi(string(bytes.TrimSpace(value)))
			if err == nil && n > 0 {
				return n
			}
			return 0
		}
	}
	return 0
}
