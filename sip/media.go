package sip

import (
	"errors"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/gatekeeper-sip/gatekeeper/media"
	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// MediaAnchor anchors calls' media at the gatekeeper (package media's
// Relay): the proxy passes it every SDP body of an anchored call with the
// side it came from, and forwards what it returns; it releases the call
// when the call ends.
type MediaAnchor interface {
	// Rewrite returns sdp, from side of call callID, as it must reach the
	// other side; on error the proxy forwards sdp unchanged.
	Rewrite(callID string, side media.Side, sdp []byte) ([]byte, error)
	// Answered tells that the carrier's 2xx reached the dialer at at, and
	// the call's campaign ("" for none): media detection starts there.
	Answered(callID, campaign string, at time.Time)
	// AgentSignal tells that the dialer said at at that an agent was
	// connected; media audits it (media.Verdict.Disagreement).
	AgentSignal(callID string, at time.Time)
	// Release frees what the call holds and returns what its media showed
	// about the abandoned-call rule; a call it never saw is no error and
	// gives media.NotLive.
	Release(callID string) media.Verdict
}

// MediaChoice says which calls have their media anchored: Default, unless
// the call's dialer says otherwise, unless its campaign does.
type MediaChoice struct {
	Default   bool
	Dialers   map[string]bool // dialer name -> anchor
	Campaigns map[string]bool // campaign id -> anchor
}

func (m MediaChoice) anchors(dialer string, call policy.Call) bool {
	if v, ok := m.Campaigns[call.Campaign]; ok && call.Campaign != "" {
		return v
	}
	if v, ok := m.Dialers[dialer]; ok {
		return v
	}
	return m.Default
}

// anchorsMedia tells whether a call's media goes through the relay.
func (p *Proxy) anchorsMedia(dialer *Dialer, s *callState) bool {
	return p.cfg.Media != nil && p.cfg.MediaChoice.anchors(dialer.Name, s.end.Call)
}

// sdpBody is a message's body when it is an SDP (RFC 3264 offers and
// answers travel as application/sdp), else nil.
func sdpBody(m sip.Message) []byte {
	ct := m.GetHeaders("Content-Type")
	if len(ct) == 0 || len(m.Body()) == 0 {
		return nil
	}
	kind, _, _ := strings.Cut(ct[0].Value(), ";")
	if !strings.EqualFold(strings.TrimSpace(kind), "application/sdp") {
		return nil
	}
	return m.Body()
}

// anchored returns the SDP of m, which came from side of an anchored
// call, rewritten for the other side; nil when m carries no SDP or the
// rewrite failed (m then goes on as it is, and the failure is logged).
func (p *Proxy) anchored(callID string, side media.Side, m sip.Message) []byte {
	body := sdpBody(m)
	if body == nil {
		return nil
	}
	out, err := p.cfg.Media.Rewrite(callID, side, body)
	switch {
	case errors.Is(err, media.ErrReleased): // SDP late for a call that ended
		return nil
	case err != nil:
		p.log.Warn("anchoring media failed: the SDP goes on unchanged", "call_id", callID, "from", side, "error", err)
		return nil
	}
	return out
}

// anchorMessage rewrites the SDP of m in place (m is the proxy's own copy)
// when s is an anchored call.
func (p *Proxy) anchorMessage(s *callState, callID string, side media.Side, m sip.Message) {
	if s == nil || !s.anchored {
		return
	}
	if body := p.anchored(callID, side, m); body != nil {
		m.SetBody(body)
	}
}

// anchoredForward wraps a request builder (Proxy.forward) so that the
// request it builds carries req's SDP rewritten for the other side, when
// the call is anchored; failed tells that req's SDP could not be rewritten.
func (p *Proxy) anchoredForward(s *callState, req *sip.Request, side media.Side, build func(string) *sip.Request) (_ func(string) *sip.Request, failed bool) {
	if s == nil || !s.anchored || sdpBody(req) == nil {
		return build, false
	}
	body := p.anchored(req.CallID().Value(), side, req)
	if body == nil {
		return build, true
	}
	return func(transport string) *sip.Request {
		fwd := build(transport)
		fwd.SetBody(body)
		return fwd
	}, false
}

// releaseMedia frees an anchored call's media ports and returns what its
// media showed; nil for a call not anchored.
func (p *Proxy) releaseMedia(s *callState) *media.Verdict {
	if !s.anchored {
		return nil
	}
	v := p.cfg.Media.Release(s.end.Call.CallID)
	return &v
}

// mediaAnswered tells the relay that an anchored call's 2xx reached the
// dialer at at: its media is measured from there.
func (p *Proxy) mediaAnswered(s *callState, at time.Time) {
	if s.anchored {
		p.cfg.Media.Answered(s.end.Call.CallID, s.end.Call.Campaign, at)
	}
}

// AgentSignal is how a dialer says that a live agent came on a call, with
// a request it sends inside the call's dialog: a header on an INFO,
// re-INVITE or UPDATE (Header), or an INFO (RFC 6086) of a Content-Type
// (ContentType) whose body holds a text (Body, "" for any body).
type AgentSignal struct {
	Header      string
	ContentType string
	Body        string
}

// in tells whether req carries the signal.
func (a *AgentSignal) in(req *sip.Request) bool {
	switch {
	case a == nil:
		return false
	case a.Header != "":
		return (req.Method == sip.INFO || req.Method == sip.INVITE || req.Method == sip.UPDATE) && req.GetHeader(a.Header) != nil
	case req.Method != sip.INFO:
		return false
	}
	ct := req.GetHeader("Content-Type")
	if ct == nil {
		return false
	}
	kind, _, _ := strings.Cut(ct.Value(), ";")
	return strings.EqualFold(strings.TrimSpace(kind), a.ContentType) && strings.Contains(string(req.Body()), a.Body)
}

// agentSignal tells the relay when an in-dialog request from the dialer of
// an anchored, answered call carries the dialer's agent signal; only the
// first counts.
func (p *Proxy) agentSignal(dl *dialog, req *sip.Request) {
	s := dl.state
	if s == nil || !s.anchored || !dl.dialer.AgentSignal.in(req) {
		return
	}
	at := p.cfg.Now()
	s.mu.Lock()
	first := !s.agentSignalled && !s.end.Answered.IsZero()
	s.agentSignalled = s.agentSignalled || first
	s.mu.Unlock()
	if first {
		p.cfg.Media.AgentSignal(dl.callID, at)
	}
}
