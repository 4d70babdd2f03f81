package sip

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/gatekeeper-sip/gatekeeper/media"
)

// retryAfter is the Retry-After of a 503 the gatekeeper sends when it takes
// no call for now (stopping, not ready, its decision log failing), in seconds.
const retryAfter = "5"

// defaultTimerC is Config.TimerC's default (RFC 3261 §16.6 step 11: more
// than 3 minutes).
const defaultTimerC = 181 * time.Second

// cancelWait bounds how long a cancelled INVITE waits for the carrier's final
// answer before the proxy ends it for the dialer (RFC 3261 §9.1: 64*T1).
const cancelWait = 32 * time.Second

// asIs is a client option that leaves a prepared request untouched (no
// default headers, no second Via).
func asIs(*sipgo.Client, *sip.Request) error { return nil }

// onInvite handles every INVITE: a re-INVITE follows its dialog, a new one
// goes through validation, the source check, the policy and on to the
// carrier. It reports whether it kept the transaction for a relay that
// answers it later (inviteRelay, forwardInDialog).
func (p *Proxy) onInvite(req *sip.Request, tx sip.ServerTransaction) (kept bool) {
	if !p.valid(req, tx) {
		return false
	}
	if req.To().Params.Has("tag") {
		return p.forwardInDialog(req, tx)
	}
	dialer, ok := p.dialerFor(req.Source())
	if !ok {
		p.refuseStranger(req)
		return false
	}
	p.invites.Add(1)
	if dialer.Auth != nil && !p.authorize(req, tx, dialer.Auth) {
		return false
	}
	if !p.secureEnough(req, tx) {
		return false
	}
	// Limits before the policy (the per-source rate is kept by the socket taps, throttle).
	switch p.admit() {
	case draining:
		tx.Respond(unavailableResponse(req, UnavailableDraining))
		return false
	case overloaded:
		p.refused.add(Overload, req.Source())
		tx.Respond(unavailableResponse(req, UnavailableOverloaded))
		return false
	}
	// Listen for a CANCEL before anything else. From here on cancelTap takes
	// it; one that came earlier was answered by sipgo itself (200 and its
	// own 487), and OnCancel then reports the transaction as gone.
	c := &inviteCall{}
	unpend := p.pending.add(req, c)
	// over ends the INVITE's handling: here, or once a relay kept it.
	over := func() {
		unpend()
		p.release()
	}
	defer func() {
		if !kept {
			over()
		}
	}()
	if !tx.OnCancel(func(*sip.Request) { c.cancel(true) }) {
		c.cancel(true)
	}
	// 100 Trying at once, before any lookup, so the dialer stops retransmitting.
	reply(tx, req, 100, "Trying")

	call := p.callFacts(req, dialer)
	if p.cfg.Admit != nil {
		if u := p.cfg.Admit(call); u != "" {
			tx.Respond(unavailableResponse(req, u))
			return false
		}
	}
	decision := p.decider.Decide(context.Background(), call)
	state := p.track(req, call, decision)
	if !decision.Forward() {
		p.rejectCall(req, tx, state)
		return false
	}
	if cancelled, bySipgo := c.state(); cancelled {
		// Nothing went downstream: the INVITE ends here (RFC 3261 §9.2).
		p.decided(state, 487)
		if !bySipgo {
			reply(tx, req, 487, "Request Terminated")
		}
		p.ended(state, EndedByCancel, p.cfg.Now())
		return false
	}
	return p.relayInvite(req, tx, dialer, c, state, over)
}

// rejectCall answers the dialer with the decision's status and an RFC 3326
// Reason header naming the rule; the INVITE never reaches the carrier. A
// reject because the registry failed (on_error) also names the node's
// unavailability (UnavailableRegistry).
func (p *Proxy) rejectCall(req *sip.Request, tx sip.ServerTransaction, s *callState) {
	d := s.decision
	hdrs := []sip.Header{
		sip.NewHeader("Reason", fmt.Sprintf("SIP;cause=%d;text=%q", d.Status, d.Rule)),
		sip.NewHeader("X-Gatekeeper-Rule", d.Rule),
	}
	if d.RetryAfter > 0 {
		hdrs = append(hdrs, sip.NewHeader("Retry-After", strconv.Itoa(d.RetryAfter)))
	}
	if d.RegistryFailed() {
		// This node could not read its registry: another may decide the call.
		hdrs = append(hdrs, sip.NewHeader(unavailableHeader, string(UnavailableRegistry)))
	}
	p.decided(s, d.Status)
	if err := reply(tx, req, d.Status, d.Reason, hdrs...); err != nil {
		p.log.Warn("sending reject failed", "call_id", s.end.Call.CallID, "error", err)
	}
}

// inviteCall tracks a CANCEL for an INVITE in progress. A CANCEL and the
// carrier's 2xx can cross; whichever the proxy takes first decides the call
// for both sides (take2xx).
type inviteCall struct {
	mu   sync.Mutex
	gone bool
	// bySipgo: sipgo's transaction layer answered the CANCEL itself, the
	// INVITE with its own 487 included (a CANCEL before cancelTap knew the INVITE).
	bySipgo bool
	// answered: a 2xx goes to the dialer; a CANCEL from now on changes nothing.
	answered bool
	relay    *inviteRelay // once the INVITE went to the carrier
}

func (c *inviteCall) cancel(bySipgo bool) {
	c.mu.Lock()
	if c.gone || c.answered {
		c.mu.Unlock()
		return
	}
	c.gone, c.bySipgo = true, bySipgo
	r := c.relay
	c.mu.Unlock()
	if r != nil {
		// Not in this goroutine: sipgo calls OnCancel holding its server
		// transaction's lock, which the relay takes to answer under r.mu;
		// and the UDP socket's reader, which calls it for takeCancel, must
		// not wait for a relay that waits for the disk (Config.SinkWaits).
		// The CANCEL already counts (gone) for take2xx.
		go r.cancel()
	}
}

// relayTo has CANCELs from now on go to r; it reports whether one came before.
func (c *inviteCall) relayTo(r *inviteRelay) (cancelled bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.relay = r
	return c.gone
}

// take2xx reports whether the carrier's 2xx may go to the dialer: not once
// its CANCEL was taken. After true, a CANCEL that crosses the 2xx is
// answered 200 and cancels nothing (RFC 3261 §9.2: the INVITE already has
// its final answer), so the dialer and the carrier are both in the call.
func (c *inviteCall) take2xx() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answered = !c.gone
	return c.answered
}

func (c *inviteCall) state() (cancelled, bySipgo bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gone, c.bySipgo
}

// relayInvite forwards an allowed INVITE to the carrier in an inviteRelay,
// which relays the answers back and a CANCEL on, and calls over once the
// dialer has its final answer. It reports whether the relay kept the
// transaction: false when the INVITE could not be sent (the dialer is
// answered 503 here).
func (p *Proxy) relayInvite(req *sip.Request, tx sip.ServerTransaction, dialer *Dialer, c *inviteCall, s *callState, over func()) bool {
	dialerTag, _ := req.From().Params.Get("tag")
	dialerAddr := req.Source()
	if c := dialerContact(req, dialer); c.IsValid() {
		dialerAddr = c.String() // reachable anew once a TCP connection is gone
	}
	build := func(transport string) *sip.Request {
		fwd := req.Clone() // never the request the server transaction holds (its 487 must go upstream)
		p.prepareForward(fwd, req.Source(), p.carrier.addr, transport)
		// The carrier's side routes by the top Record-Route entry, the dialer's by
		// the bottom one: two entries when they differ in transport (RFC 5658) or
		// IP family.
		// Both entries carry the dialog's sealed sides (routekey.go).
		sealed := p.seal(req.CallID().Value(), dialerTag, sides{
			dialer: dialer.Name, dialerAddr: dialerAddr, dialerTransport: transportOf(req), carrierTransport: transport,
		})
		sips := req.Recipient.IsEncrypted()
		route := []sip.Header{p.recordRoute(transport, p.carrier.ip, sips, sealed)}
		// The entries differ when the sides' listen addresses or transports do.
		dialerIP, _ := addrIP(req.Source())
		if dialerTransport := transportOf(req); dialerTransport != transport ||
			p.listens[familyOf(dialerTransport, dialerIP)] != p.listens[familyOf(transport, p.carrier.ip)] {
			route = append(route, p.recordRoute(dialerTransport, dialerIP, sips, sealed))
		}
		fwd.PrependHeader(route...)
		return fwd
	}
	s.anchored = p.anchorsMedia(dialer, s)
	build, failed := p.anchoredForward(s, req, media.Dialer, build)
	if failed {
		// An offer that cannot be anchored leaves the whole call unanchored,
		// rather than half of it.
		p.releaseMedia(s)
		s.anchored = false
	}
	// The INVITE's handling is over once the relay finished and the
	// forwarded call is recorded (Forwarded), whichever comes last.
	var parties atomic.Int32
	parties.Store(2)
	r := &inviteRelay{p: p, req: req, tx: tx, c: c, s: s, over: func() {
		if parties.Add(-1) == 0 {
			over()
		}
	}}
	on := r.answer
	switch {
	case transportOf(req) != "udp":
		on = aside(r.answer, false) // a TCP or TLS write to the dialer can wait
	case p.cfg.SinkWaits:
		on = aside(r.answer, true)
	}
	// The carrier's answers wait for r.mu until r is complete.
	r.mu.Lock()
	out, fwd, carrierTransport, err := p.forward(build, p.carrier.transport, on)
	if err != nil {
		r.mu.Unlock()
		p.log.Error("forwarding INVITE to the carrier failed", "call_id", req.CallID().Value(), "error", err)
		p.decided(s, 503)
		reply(tx, req, 503, "Service Unavailable")
		p.ended(s, EndedByGatekeeper, p.cfg.Now())
		return false
	}
	r.out, r.fwd = out, fwd
	// Opened once the transport is known: an INVITE that went over TCP for
	// its size keeps its dialog on TCP toward the carrier, as its Record-Route says.
	r.dl = p.dialogs.open(req, dialer, carrierTransport, s)
	out.OnRetransmission(p.relayStray2xx)
	r.timerC = startTimerC(p.cfg.TimerC, r.timeOut)
	cancelled := c.relayTo(r)
	cut := !p.relays.add(r)
	r.mu.Unlock()
	if cancelled {
		go r.cancel()
	}
	if cut {
		go r.cut()
	}
	if err := p.decider.Forwarded(context.Background(), s.end.Call); err != nil {
		p.log.Error("recording a forwarded call for frequency caps failed", "call_id", r.dl.callID, "error", err)
	}
	r.over()
	return true
}

// sendCancel cancels a forwarded INVITE and waits for the CANCEL's answer.
func (p *Proxy) sendCancel(invite *sip.Request) { p.transact(cancelOf(invite)) }

// cancelOf is the CANCEL of a forwarded INVITE: same Request-URI, Call-ID,
// From, To, Route and top Via, and the INVITE's CSeq number (RFC 3261 §9.1).
func cancelOf(invite *sip.Request) *sip.Request {
	return sameHop(invite, sip.CANCEL, invite.To())
}

// ackOf is the ACK of a non-2xx final answer res to a forwarded INVITE: as
// its CANCEL, with the answer's To (RFC 3261 §17.1.1.3).
func ackOf(invite *sip.Request, res *sip.Response) *sip.Request {
	to := res.To()
	if to == nil {
		to = invite.To()
	}
	return sameHop(invite, sip.ACK, to)
}

// sameHop is a request that goes where invite went and belongs to its
// transaction: invite's Request-URI, top Via, Route, From, Call-ID and CSeq
// number, the given method and To.
func sameHop(invite *sip.Request, method sip.RequestMethod, to *sip.ToHeader) *sip.Request {
	r := sip.NewRequest(method, *invite.Recipient.Clone())
	r.AppendHeader(invite.Via().Clone())
	mf := sip.MaxForwardsHeader(70)
	r.AppendHeader(&mf)
	for _, h := range invite.GetHeaders("Route") {
		r.AppendHeader(h.(*sip.RouteHeader).Clone())
	}
	r.AppendHeader(sip.HeaderClone(invite.From()))
	r.AppendHeader(sip.HeaderClone(to))
	callID := *invite.CallID()
	r.AppendHeader(&callID)
	r.AppendHeader(&sip.CSeqHeader{SeqNo: invite.CSeq().SeqNo, MethodName: method})
	r.SetTransport(invite.Transport())
	r.SetDestination(invite.Destination())
	r.Laddr = invite.Laddr
	r.SetBody(nil)
	return r
}

// hangUpCarrier acknowledges a 2xx that came too late and sends BYE, so the
// carrier does not keep a call the dialer already gave up.
func (p *Proxy) hangUpCarrier(invite *sip.Request, res *sip.Response) {
	if res.To() == nil {
		return // no dialog to end: nothing an ACK or BYE could name
	}
	to := sip.HeaderClone(res.To())
	target := invite.Recipient
	if c := res.Contact(); c != nil {
		target = c.Address
	}
	for _, method := range []sip.RequestMethod{sip.ACK, sip.BYE} {
		r := sip.NewRequest(method, *target.Clone())
		r.AppendHeader(p.newVia(transportOf(invite), p.carrier.ip))
		mf := sip.MaxForwardsHeader(70)
		r.AppendHeader(&mf)
		r.AppendHeader(sip.HeaderClone(invite.From()))
		r.AppendHeader(to)
		callID := *invite.CallID()
		r.AppendHeader(&callID)
		seq := invite.CSeq().SeqNo
		if method == sip.BYE {
			seq++
		}
		r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
		r.SetTransport(invite.Transport())
		r.SetDestination(p.carrier.addr)
		r.Laddr = p.localAddr(transportOf(invite), p.carrier.ip)
		r.SetBody(nil)
		if method == sip.ACK {
			if err := p.client.WriteRequest(r, asIs); err != nil {
				p.log.Warn("ACK for a late 2xx failed", "call_id", callID.Value(), "error", err)
			}
			continue
		}
		p.transact(r)
	}
}

// transact sends a request of our own and waits for its final answer.
func (p *Proxy) transact(req *sip.Request) { awaitFinal(p.begin(req)) }

// begin sends a request of our own; nil when it could not be sent.
func (p *Proxy) begin(req *sip.Request) *clientTx {
	tx, err := p.transaction(req, nil)
	if err != nil {
		p.log.Warn("sending request failed", "method", req.Method, "call_id", req.CallID().Value(), "error", err)
		return nil
	}
	return tx
}

// awaitFinal waits for the final answer of a request begin sent.
func awaitFinal(tx *clientTx) {
	if tx == nil {
		return
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			if res.StatusCode >= 200 {
				return
			}
		case <-tx.Done():
			return
		}
	}
}
