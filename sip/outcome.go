package sip

import (
	"context"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/gatekeeper-sip/gatekeeper/media"
	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// EndedBy names who ended a forwarded call.
type EndedBy string

const (
	// EndedByDialer is the dialer's BYE.
	EndedByDialer EndedBy = "dialer"
	// EndedByCarrier is the carrier's BYE, or its final answer other than 2xx.
	EndedByCarrier EndedBy = "carrier"
	// EndedByCancel is the dialer's CANCEL before the call was answered.
	EndedByCancel EndedBy = "cancel"
	// EndedByTimeout is no final answer in time (RFC 3261 §16.6 Timer C, or
	// the INVITE transaction's timeout), or a call with no BYE after 12 hours.
	EndedByTimeout EndedBy = "timeout"
	// EndedByGatekeeper is the gatekeeper itself: the INVITE could not be
	// forwarded, or the gatekeeper stopped while the call was ringing or up.
	EndedByGatekeeper EndedBy = "gatekeeper"
)

// CallEnd is what became of a forwarded call, reported once, when it ends.
type CallEnd struct {
	// Call is the call's facts as the policy decided on them; Call.Time is
	// when the INVITE arrived.
	Call policy.Call
	// Calling is the calling number as the From header's URI gives it;
	// CallerName is the display name sent with the caller ID
	// (P-Asserted-Identity, else From), "" when none.
	Calling, CallerName string
	// Status is the final SIP status the dialer got: the carrier's answer
	// relayed, or the gatekeeper's own (487 after a CANCEL, 408, 503); 0 when
	// the gatekeeper stopped before the call had one.
	Status int
	// Answered is when the carrier's 2xx was relayed to the dialer; zero
	// when the call was never answered.
	Answered time.Time
	// Ended is when the BYE, CANCEL or final answer arrived, the timeout
	// fired, or the gatekeeper stopped following the call.
	Ended   time.Time
	EndedBy EndedBy
	// Media is what the call's media showed about the abandoned-call rule
	// (16 CFR 310.4(b)(1)(iv)), from the relay when the call was anchored;
	// nil when it was not.
	Media *media.Verdict
}

// Duration is the time the call was connected, from answer to end; 0 when
// it was never answered.
func (e CallEnd) Duration() time.Duration {
	if e.Answered.IsZero() || e.Ended.Before(e.Answered) {
		return 0
	}
	return e.Ended.Sub(e.Answered)
}

// CallEndSink receives the end of every call the policy allowed.
type CallEndSink func(CallEnd)

// callState is one decided call, from its decision until its end is
// reported: the decision is recorded once, when its final status is known
// (or by Cut), and the end once.
type callState struct {
	mu       sync.Mutex
	end      CallEnd
	decision policy.Decision
	recorded bool // the decision went to the DecisionSink
	ended    bool // the end went to the CallEndSink
	// anchored: the call's media goes through Config.Media. Set before the
	// INVITE is forwarded, read-only after.
	anchored bool
	// agentSignalled: the dialer's agent signal went to the relay.
	agentSignalled bool
}

// track starts following a decided call until its decision is recorded.
func (p *Proxy) track(req *sip.Request, call policy.Call, d policy.Decision) *callState {
	s := &callState{decision: d, end: CallEnd{Call: call, Calling: subscriber(&req.From().Address), CallerName: callerName(req)}}
	p.unrecorded.Lock()
	p.unrecorded.calls[s] = struct{}{}
	p.unrecorded.Unlock()
	return s
}

// decided records the call's decision with the final status the dialer got;
// only the first call records.
func (p *Proxy) decided(s *callState, status int) {
	s.mu.Lock()
	first := !s.recorded
	s.recorded, s.end.Status = true, status
	s.mu.Unlock()
	p.unrecorded.Lock()
	delete(p.unrecorded.calls, s)
	p.unrecorded.Unlock()
	if first && p.sink != nil {
		p.sink(s.end.Call, s.decision, status)
	}
}

// answered records the decision of a call the carrier answered with status,
// before the answer is relayed, so that its outcome always comes after it.
// The relay measures the call's media from then on.
func (p *Proxy) answered(s *callState, status int) {
	at := p.cfg.Now()
	s.mu.Lock()
	s.end.Answered = at
	s.mu.Unlock()
	p.mediaAnswered(s, at)
	p.decided(s, status)
}

// ended reports the end of an allowed call; only the first call reports.
// A dialog recovered after a restart has no state: its end is not reported.
func (p *Proxy) ended(s *callState, by EndedBy, at time.Time) {
	if s == nil {
		return
	}
	s.mu.Lock()
	first := !s.ended
	s.ended = true
	end := s.end
	s.mu.Unlock()
	if first {
		end.Media = p.releaseMedia(s)
	}
	if !first || p.cfg.OnCallEnd == nil {
		return
	}
	end.Ended, end.EndedBy = at, by
	p.cfg.OnCallEnd(end)
}

// Cut ends what Drain left, so that every decision and every end is
// reported before the proxy closes: INVITEs still waiting for the carrier
// are answered 503 and cancelled toward the carrier, calls still up are
// reported ended by the gatekeeper (media does not pass through it; it only
// stops following them). A decision whose INVITE handling has not finished
// when ctx ends is recorded with status 0. Call it after Drain, before Close.
func (p *Proxy) Cut(ctx context.Context) {
	p.relays.cutAll()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for p.activeInvites() > 0 && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	p.unrecorded.Lock()
	stuck := make([]*callState, 0, len(p.unrecorded.calls))
	for s := range p.unrecorded.calls {
		stuck = append(stuck, s)
	}
	p.unrecorded.Unlock()
	now := p.cfg.Now()
	for _, s := range stuck {
		p.decided(s, 0)
		if s.decision.Forward() {
			p.ended(s, EndedByGatekeeper, now)
		}
	}
	p.endDialogs(p.dialogs.takeAll(), EndedByGatekeeper)
}

// callerName is the display name of P-Asserted-Identity, else of From.
func callerName(req *sip.Request) string {
	if h := header(req, "P-Asserted-Identity"); h != nil {
		var u sip.Uri
		var params sip.HeaderParams
		if name, err := sip.ParseAddressValue(h.Value(), &u, &params); err == nil {
			return name
		}
	}
	return req.From().DisplayName
}
