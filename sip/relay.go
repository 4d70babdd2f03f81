package sip

import (
	"sync"

	"github.com/emiago/sipgo/sip"

	"github.com/gatekeeper-sip/gatekeeper/media"
)

// inviteRelay is an INVITE forwarded to the carrier, until the dialer has
// its final answer and the carrier is done with it. What moves it comes
// from the goroutines that read or time it: the carrier's answers (answer),
// the dialer's CANCEL (cancel), Timer C (timeOut) and the proxy's stop
// (cut), taken one at a time under mu.
type inviteRelay struct {
	p    *Proxy
	req  *sip.Request // as the dialer sent it
	tx   sip.ServerTransaction
	c    *inviteCall
	s    *callState
	over func() // the INVITE's handling is over

	mu       sync.Mutex
	out      *clientTx
	dl       *dialog
	finished bool
	inviteProgress
	// answered is the final status the dialer got from us before the carrier
	// gave one (408 when Timer C ran out, 487 after a CANCEL it never
	// answered, or sipgo's own 487, 503 when the gatekeeper stopped).
	answered int
	// by is who ended a call the gatekeeper gave up on (a timeout, or its
	// own stop); endedBy says who ended a call that was not answered.
	by EndedBy
}

// answer takes the carrier's answers (an answerFunc): res nil when the
// INVITE's client transaction ended without a final one.
func (r *inviteRelay) answer(res *sip.Response, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return
	}
	p, tx, req := r.p, r.tx, r.req
	switch {
	case res == nil:
		p.dialogs.drop(r.dl.callID)
		if r.answered == 0 {
			p.log.Warn("carrier did not answer the INVITE", "call_id", r.dl.callID, "error", err)
			r.giveUp(EndedByTimeout)
		}
		r.finish()
	case res.StatusCode < 200:
		r.provisional(p, res.StatusCode)
		if res.StatusCode > 100 && r.answered == 0 && !forUs(res) {
			rel := responseToRelay(res, req)
			p.anchorMessage(r.s, r.dl.callID, media.Carrier, rel)
			tx.Respond(rel)
		}
	case res.StatusCode < 300:
		r.out.Terminate() // its retransmissions are relayed statelessly (relayStray2xx)
		if r.answered == 0 && r.c.take2xx() {
			if !forUs(res) {
				p.answered(r.s, res.StatusCode)
				p.dialogs.answer(r.dl)
				rel := responseToRelay(res, req)
				p.anchorMessage(r.s, r.dl.callID, media.Carrier, rel)
				tx.Respond(rel)
				r.answered = res.StatusCode
				r.finish()
				return
			}
			// The carrier is in a call the dialer cannot be told of:
			// it is hung up below, like a 2xx after a CANCEL.
			r.answered, r.by = p.badGateway(tx, req, r.s, res), EndedByGatekeeper
		}
		// The carrier answered after the dialer cancelled, or was told
		// the call ended: the dialer gets 487 (once) and never this 2xx,
		// the carrier an ACK and a BYE, so both are out of the call.
		// (RFC 3261 §16.7 would let the 2xx through, leaving the dialer
		// to send BYE, which many do not.)
		if r.answered == 0 {
			r.cancelled = true
			r.answered = 487
			if _, bySipgo := r.c.state(); !bySipgo {
				r.answered = giveUp(tx, req, true)
			}
		}
		go p.hangUpCarrier(r.fwd, res)
		p.dialogs.drop(r.dl.callID)
		r.finish()
	default:
		p.dialogs.drop(r.dl.callID)
		switch {
		case r.answered != 0:
		case forUs(res):
			r.answered = p.badGateway(tx, req, r.s, res)
		default:
			p.decided(r.s, res.StatusCode) // before the answer leaves
			tx.Respond(responseToRelay(res, req))
			r.answered = res.StatusCode
		}
		r.finish()
	}
}

// cancel takes the dialer's CANCEL: the carrier's answer to the INVITE
// (487) goes to the dialer, unless sipgo has already sent its own.
func (r *inviteRelay) cancel() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return
	}
	if _, bySipgo := r.c.state(); bySipgo {
		r.answered = 487
	}
	r.cancelDownstream(r.p)
}

// timeOut is RFC 3261 §16.6 Timer C (after a CANCEL, 64*T1 as in §9.1): no
// final answer for too long. It gives up on the dialer's side, cancels
// downstream, and keeps listening 64*T1 so that a late 2xx is hung up; 64*T1
// after a CANCEL with no final answer, the INVITE's client transaction ends
// (§9.1).
func (r *inviteRelay) timeOut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished || r.timerC.early() {
		return // ended, or the timer was set again as it ran out
	}
	if r.answered == 0 {
		r.giveUp(EndedByTimeout)
	}
	if r.cancelRinging(r.p) {
		return
	}
	r.out.Terminate()
	r.p.dialogs.drop(r.dl.callID)
	r.finish()
}

// cut ends the relay as the gatekeeper stops and the drain time ran out:
// the dialer gets 503, the carrier a CANCEL when it may take one.
func (r *inviteRelay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return
	}
	if r.answered == 0 && r.cancelled {
		r.giveUp("")
	} else if r.answered == 0 {
		r.answered, r.by = 503, EndedByGatekeeper
		reply(r.tx, r.req, 503, "Service Unavailable")
	}
	if r.ringing && !r.cancelled && !r.timedOut {
		// Sent before Cut returns and the transports close.
		tx := r.p.begin(cancelOf(r.fwd))
		go awaitFinal(tx)
	}
	r.out.Terminate()
	r.p.dialogs.drop(r.dl.callID)
	r.finish()
}

// giveUp answers the dialer 487 or 408 (giveUp) for a carrier that gave no
// final answer; a 408 is the timeout's end, by.
func (r *inviteRelay) giveUp(by EndedBy) {
	r.answered = giveUp(r.tx, r.req, r.cancelled)
	if !r.cancelled && by != "" {
		r.by = by
	}
}

// finish records the dialer's final status and who ended a call that did
// not go on, and ends the INVITE's handling and its server transaction.
func (r *inviteRelay) finish() {
	r.finished = true
	r.timerC.stop()
	r.p.relays.remove(r)
	// The server transaction, which holds c for a CANCEL, lingers (Timer L,
	// 64*T1, after a 2xx): it keeps nothing of the call.
	r.c.relayTo(nil)
	r.p.decided(r.s, r.answered)
	if by := r.endedBy(); by != "" {
		r.p.ended(r.s, by, r.p.cfg.Now())
	}
	r.over()
	endServerTx(r.tx)
}

// endedBy says who ended a call that did not go on: "" for one answered 2xx.
func (r *inviteRelay) endedBy() EndedBy {
	switch {
	case r.by != "":
		return r.by
	case r.answered >= 200 && r.answered < 300:
		return ""
	case r.cancelled:
		return EndedByCancel
	}
	return EndedByCarrier
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

// relays are the INVITEs forwarded to the carrier and not yet finished,
// which Cut ends.
type relays struct {
	mu    sync.Mutex
	set   map[*inviteRelay]struct{}
	isCut bool
}

// add reports false, keeping nothing, once the proxy is cut.
func (t *relays) add(r *inviteRelay) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.isCut {
		return false
	}
	if t.set == nil {
		t.set = map[*inviteRelay]struct{}{}
	}
	t.set[r] = struct{}{}
	return true
}

func (t *relays) remove(r *inviteRelay) {
	t.mu.Lock()
	delete(t.set, r)
	t.mu.Unlock()
}

// cutAll cuts every relay, and those added from now on.
func (t *relays) cutAll() {
	t.mu.Lock()
	t.isCut = true
	cut := make([]*inviteRelay, 0, len(t.set))
	for r := range t.set {
		cut = append(cut, r)
	}
	t.mu.Unlock()
	for _, r := range cut {
		go r.cut() // at once, not one after the other (Cut waits for them)
	}
}

// endServerTx ends a server transaction a relay kept once the request has
// its final answer, as sipgo's Server ends those of its handlers: over UDP
// it lingers to answer retransmissions of the request (RFC 3261 §17.2).
func endServerTx(tx sip.ServerTransaction) {
	if g, ok := tx.(interface{ TerminateGracefully() }); ok {
		g.TerminateGracefully()
		return
	}
	tx.Terminate()
}
