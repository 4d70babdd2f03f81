package sip

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/gatekeeper-sip/gatekeeper/media"
)

// retryAfter is the Retry-After of a 503 the gatekeeper sends when it takes
// no call for now (stopping, not ready, its decision log failing), in seconds.
const retryAfter = "5"

// inviteTimeout bounds how long a forwarded INVITE may go without any answer
// from the carrier (RFC 3261 §16.6 Timer C: more than 3 minutes; every
// provisional answer starts it again).
const inviteTimeout = 181 * time.Second

// cancelWait bounds how long a cancelled INVITE waits for the carrier's final
// answer before the proxy ends it for the dialer (RFC 3261 §9.1: 64*T1).
const cancelWait = 32 * time.Second

// asIs is a client option that leaves a prepared request untouched (no
// default headers, no second Via).
func asIs(*sipgo.Client, *sip.Request) error { return nil }

// onInvite handles every INVITE: a re-INVITE follows its dialog, a new one
// goes through validation, the source check, the policy and on to the carrier.
func (p *Proxy) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if !p.valid(req, tx) {
		return
	}
	if req.To().Params.Has("tag") {
		p.forwardInDialog(req, tx)
		return
	}
	dialer, ok := p.dialerFor(req.Source())
	if !ok {
		p.refuseStranger(req)
		return
	}
	p.invites.Add(1)
	if dialer.Auth != nil && !p.authorize(req, tx, dialer.Auth) {
		return
	}
	if !p.secureEnough(req, tx) {
		return
	}
	// Limits before the policy (the per-source rate is kept by the socket taps, throttle).
	switch p.admit() {
	case draining:
		tx.Respond(unavailableResponse(req, UnavailableDraining))
		return
	case overloaded:
		p.refused.add(Overload, req.Source())
		tx.Respond(unavailableResponse(req, UnavailableOverloaded))
		return
	}
	defer p.release()

	// Listen for a CANCEL before anything else. From here on cancelTap takes
	// it; one that came earlier was answered by sipgo itself (200 and its
	// own 487), and OnCancel then reports the transaction as gone.
	c := &inviteCall{cancels: make(chan struct{}, 1)}
	defer p.pending.add(req, c)()
	if !tx.OnCancel(func(*sip.Request) { c.cancel(true) }) {
		c.cancel(true)
	}
	// 100 Trying at once, before any lookup, so the dialer stops retransmitting.
	reply(tx, req, 100, "Trying")

	call := p.callFacts(req, dialer)
	if p.cfg.Admit != nil {
		if u := p.cfg.Admit(call); u != "" {
			tx.Respond(unavailableResponse(req, u))
			return
		}
	}
	decision := p.decider.Decide(context.Background(), call)
	state := p.track(req, call, decision)
	if !decision.Forward() {
		p.rejectCall(req, tx, state)
		return
	}
	if cancelled, bySipgo := c.state(); cancelled {
		// Nothing went downstream: the INVITE ends here (RFC 3261 §9.2).
		p.decided(state, 487)
		if !bySipgo {
			reply(tx, req, 487, "Request Terminated")
		}
		p.ended(state, EndedByCancel, p.cfg.Now())
		return
	}
	status, by := p.relayInvite(req, tx, dialer, c, state)
	p.decided(state, status)
	if by != "" {
		p.ended(state, by, p.cfg.Now())
	}
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
	cancels  chan struct{}
}

func (c *inviteCall) cancel(bySipgo bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.gone && !c.answered {
		c.gone, c.bySipgo = true, bySipgo
		c.cancels <- struct{}{}
	}
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

// relayInvite forwards an allowed INVITE to the carrier and relays its
// answers back, forwarding a CANCEL as soon as it arrives. It returns the
// final status the dialer saw, and who ended the call ("" when it was
// answered and goes on; a 2xx's decision is recorded before it is relayed).
func (p *Proxy) relayInvite(req *sip.Request, tx sip.ServerTransaction, dialer *Dialer, c *inviteCall, s *callState) (int, EndedBy) {
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
	callID := req.CallID().Value()
	s.anchored = p.anchorsMedia(dialer, s)
	build, failed := p.anchoredForward(s, req, media.Dialer, build)
	if failed {
		// An offer that cannot be anchored leaves the whole call unanchored,
		// rather than half of it.
		p.releaseMedia(s)
		s.anchored = false
	}
	out, fwd, carrierTransport, err := p.forward(build, p.carrier.transport)
	if err != nil {
		p.log.Error("forwarding INVITE to the carrier failed", "call_id", req.CallID().Value(), "error", err)
		p.decided(s, 503)
		reply(tx, req, 503, "Service Unavailable")
		return 503, EndedByGatekeeper
	}
	// Opened once the transport is known: an INVITE that went over TCP for
	// its size keeps its dialog on TCP toward the carrier, as its Record-Route says.
	dl := p.dialogs.open(req, dialer, carrierTransport, s)
	out.OnRetransmission(p.relayStray2xx)
	if err := p.decider.Forwarded(context.Background(), s.end.Call); err != nil {
		p.log.Error("recording a forwarded call for frequency caps failed", "call_id", dl.callID, "error", err)
	}

	// answered is the final status the dialer got from us before the carrier
	// gave one (408 when Timer C ran out, 487 after a CANCEL it never
	// answered, or sipgo's own 487, 503 when the gatekeeper stopped).
	ringing, cancelled, cancelPending, answered := false, false, false, 0
	// timedOut: Timer C ran out on a ringing call and the carrier was sent a CANCEL.
	timedOut := false
	// by is who ended a call the gatekeeper gave up on (a timeout, or its
	// own stop); endedBy says who ended a call that was not answered.
	var by EndedBy
	endedBy := func() EndedBy {
		switch {
		case by != "":
			return by
		case cancelled:
			return EndedByCancel
		}
		return EndedByCarrier
	}
	timerC := time.NewTimer(inviteTimeout)
	defer timerC.Stop()
	cutting := p.cutting
	for {
		select {
		case res := <-out.Responses():
			switch {
			case res.StatusCode < 200:
				ringing = true
				switch {
				case cancelPending:
					cancelPending = false
					go p.sendCancel(fwd)
					timerC.Reset(cancelWait)
				case !cancelled && !timedOut:
					timerC.Reset(inviteTimeout)
				}
				if res.StatusCode > 100 && answered == 0 && !forUs(res) {
					rel := responseToRelay(res, req)
					p.anchorMessage(s, callID, media.Carrier, rel)
					tx.Respond(rel)
				}
			case res.StatusCode < 300:
				out.Terminate() // its retransmissions are relayed statelessly (relayStray2xx)
				if answered == 0 && c.take2xx() {
					if !forUs(res) {
						p.answered(s, res.StatusCode)
						p.dialogs.answer(dl)
						rel := responseToRelay(res, req)
						p.anchorMessage(s, callID, media.Carrier, rel)
						tx.Respond(rel)
						return res.StatusCode, ""
					}
					// The carrier is in a call the dialer cannot be told of:
					// it is hung up below, like a 2xx after a CANCEL.
					answered, by = p.badGateway(tx, req, s, res), EndedByGatekeeper
				}
				// The carrier answered after the dialer cancelled, or was told
				// the call ended: the dialer gets 487 (once) and never this 2xx,
				// the carrier an ACK and a BYE, so both are out of the call.
				// (RFC 3261 §16.7 would let the 2xx through, leaving the dialer
				// to send BYE, which many do not.)
				if answered == 0 {
					cancelled = true
					answered = 487
					if _, bySipgo := c.state(); !bySipgo {
						answered = giveUp(tx, req, true)
					}
				}
				go p.hangUpCarrier(fwd, res)
				p.dialogs.drop(dl.callID)
				return answered, endedBy()
			default:
				p.dialogs.drop(dl.callID)
				switch {
				case answered != 0:
				case forUs(res):
					answered = p.badGateway(tx, req, s, res)
				default:
					p.decided(s, res.StatusCode) // before the answer leaves
					tx.Respond(responseToRelay(res, req))
					answered = res.StatusCode
				}
				return answered, endedBy()
			}
		case <-c.cancels:
			// The carrier's answer to the INVITE (487) goes to the dialer,
			// unless sipgo has already sent its own.
			cancelled = true
			if _, bySipgo := c.state(); bySipgo {
				answered = 487
			}
			timerC.Reset(cancelWait)
			if ringing {
				go p.sendCancel(fwd)
			} else {
				// RFC 3261 §9.1: no CANCEL before a provisional response.
				cancelPending = true
			}
		case <-out.Done():
			p.dialogs.drop(dl.callID)
			if answered == 0 {
				p.log.Warn("carrier did not answer the INVITE", "call_id", dl.callID, "error", out.Err())
				answered = giveUp(tx, req, cancelled)
				if !cancelled {
					by = EndedByTimeout
				}
			}
			return answered, endedBy()
		case <-timerC.C:
			// RFC 3261 §16.6 Timer C (after a CANCEL, 64*T1 as in §9.1): no
			// final answer for too long. Give up on the dialer's side, cancel
			// downstream, and keep listening 64*T1 so that a late 2xx is hung
			// up; 64*T1 after a CANCEL with no final answer, the INVITE's
			// client transaction ends (§9.1).
			if answered == 0 {
				answered = giveUp(tx, req, cancelled)
				if !cancelled {
					by = EndedByTimeout
				}
			}
			if ringing && !cancelled && !timedOut {
				timedOut = true
				go p.sendCancel(fwd)
				timerC.Reset(cancelWait)
				continue
			}
			out.Terminate()
			p.dialogs.drop(dl.callID)
			return answered, endedBy()
		case <-cutting:
			// The gatekeeper is stopping and the drain time ran out: the
			// dialer gets 503, the carrier a CANCEL when it may take one.
			if answered == 0 && cancelled {
				answered = giveUp(tx, req, cancelled)
			} else if answered == 0 {
				answered, by = 503, EndedByGatekeeper
				reply(tx, req, 503, "Service Unavailable")
			}
			if ringing && !cancelled {
				// Sent before Cut returns and the transports close.
				go awaitFinal(p.begin(cancelOf(fwd)))
			}
			out.Terminate()
			p.dialogs.drop(dl.callID)
			return answered, endedBy()
		}
	}
}

// badGateway answers the dialer 502 for the carrier's final answer res
// that bears none of the dialer's Vias, which is therefore not forwarded
// (forUs), and records that status. It returns 502.
func (p *Proxy) badGateway(tx sip.ServerTransaction, req *sip.Request, s *callState, res *sip.Response) int {
	p.log.Warn("the carrier's answer has no Via but ours: not forwarded", "call_id", req.CallID().Value(), "status", res.StatusCode)
	p.decided(s, 502) // before the answer leaves
	reply(tx, req, 502, "Bad Gateway")
	return 502
}

// giveUp ends the dialer's side of an INVITE the carrier gave no final
// answer to: 487 when the dialer cancelled it, else 408. It returns the status.
func giveUp(tx sip.ServerTransaction, req *sip.Request, cancelled bool) int {
	if cancelled {
		reply(tx, req, 487, "Request Terminated")
		return 487
	}
	reply(tx, req, 408, "Request Timeout")
	return 408
}

// sendCancel cancels a forwarded INVITE and waits for the CANCEL's answer.
func (p *Proxy) sendCancel(invite *sip.Request) { p.transact(cancelOf(invite)) }

// cancelOf is the CANCEL of a forwarded INVITE: same Request-URI, Call-ID,
// From, To, Route and top Via, and the INVITE's CSeq number (RFC 3261 §9.1).
func cancelOf(invite *sip.Request) *sip.Request {
	cancel := sip.NewRequest(sip.CANCEL, *invite.Recipient.Clone())
	cancel.AppendHeader(invite.Via().Clone())
	mf := sip.MaxForwardsHeader(70)
	cancel.AppendHeader(&mf)
	for _, h := range invite.GetHeaders("Route") {
		cancel.AppendHeader(h.(*sip.RouteHeader).Clone())
	}
	cancel.AppendHeader(sip.HeaderClone(invite.From()))
	cancel.AppendHeader(sip.HeaderClone(invite.To()))
	callID := *invite.CallID()
	cancel.AppendHeader(&callID)
	cancel.AppendHeader(&sip.CSeqHeader{SeqNo: invite.CSeq().SeqNo, MethodName: sip.CANCEL})
	cancel.SetTransport(invite.Transport())
	cancel.SetDestination(invite.Destination())
	cancel.Laddr = invite.Laddr
	cancel.SetBody(nil)
	return cancel
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
func (p *Proxy) begin(req *sip.Request) sip.ClientTransaction {
	tx, err := p.transaction(req)
	if err != nil {
		p.log.Warn("sending request failed", "method", req.Method, "call_id", req.CallID().Value(), "error", err)
		return nil
	}
	return tx
}

// awaitFinal waits for the final answer of a request begin sent.
func awaitFinal(tx sip.ClientTransaction) {
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
