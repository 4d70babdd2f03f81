package media

import (
	"fmt"
	"time"
)

// Answered tells the relay that the carrier's 2xx to call callID's INVITE
// reached the dialer at at (wall clock), and which campaign (X-Campaign-ID)
// the call belongs to, "" for none: detection starts there, media before
// it is early media and not counted, and the campaign's safe-harbor
// message (SafeHarbor) is looked for on the dialer leg. Only the first
// answer counts; a call the relay does not anchor is ignored.
func (r *Relay) Answered(callID, campaign string, at time.Time) {
	s := r.session(callID)
	if s == nil {
		return
	}
	r.mu.Lock()
	fp := r.messages[campaign]
	r.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.answered.IsZero() {
		return
	}
	s.answered, s.campaign = at, campaign
	if fp != nil {
		d := s.tracks[Dialer]
		d.mu.Lock()
		d.message = newMatcher(fp)
		d.mu.Unlock()
	}
	s.answeredAt.Store(max(int64(at.Sub(r.epoch)), 1))
}

// AgentSignal records that the dialer said at at (wall clock) that a live
// agent was connected to call callID (a configured header or SIP INFO);
// the Verdict reports it, and Verdict.Disagreement where the media
// contradicts it. Only the first signal counts.
func (r *Relay) AgentSignal(callID string, at time.Time) {
	s := r.session(callID)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.agentSignal.IsZero() {
		s.agentSignal = at
	}
}

// session returns the call's session, nil when the relay has none.
func (r *Relay) session(callID string) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[callID]
}

// maxGap is the abandoned-call rule's limit (16 CFR 310.4(b)(1)(iv)): an
// agent first heard later than this after the greeting's end is too late.
const maxGap = 2 * time.Second

// signalSlack is how far the dialer's "agent connected" may be from the
// agent's first speech without a disagreement: an agent says hello within
// about a second of being connected.
const signalSlack = time.Second

// verdict is what the session's media showed, the call having ended at
// end; s.mu is held.
func (s *session) verdict(end time.Time) Verdict {
	v := Verdict{Outcome: NotLive, Answered: s.answered, AgentSignal: s.agentSignal}
	if s.answered.IsZero() {
		v.Note = "not answered"
		return v
	}
	at := func(frame int) time.Time { return s.answered.Add(time.Duration(frame) * frameDuration) }
	callee, dialer := s.tracks[Carrier], s.tracks[Dialer]
	callee.mu.Lock()
	start, stop, greeted := callee.greeting.bounds()
	calleeAudio := callee.g711
	callee.mu.Unlock()
	dialer.mu.Lock()
	agent, message := dialer.agent(), dialer.message.start
	dialerAudio := dialer.g711
	dialer.mu.Unlock()

	if agent >= 0 {
		v.AgentSpeech = at(agent)
	}
	if message >= 0 {
		v.SafeHarbor = at(message)
	}
	v.Disagreement = s.audit(v.AgentSpeech, v.SafeHarbor)
	switch {
	case !calleeAudio:
		v.Note = "no G.711 audio from the carrier after the answer"
		return v
	case !greeted:
		v.Note = "no greeting heard"
		return v
	case !dialerAudio:
		v.Note = "no G.711 audio from the dialer after the answer"
	}
	v.GreetingStart, v.GreetingEnd = at(start), at(stop)
	switch {
	case agent >= 0 && (message < 0 || agent < message):
		v.Gap = v.AgentSpeech.Sub(v.GreetingEnd)
	case message >= 0:
		v.Gap = v.SafeHarbor.Sub(v.GreetingEnd)
	default:
		v.Gap = max(end.Sub(v.GreetingEnd), 0)
	}
	switch {
	case agent >= 0 && (message < 0 || agent < message) && v.Gap <= maxGap:
		v.Outcome = Connected
	case message >= 0:
		v.Outcome = AbandonedSafeHarbor
	default:
		v.Outcome = Abandoned
	}
	return v
}

// audit compares the dialer's agent signal with the media: the agent's
// first speech and the safe-harbor message; "" when they agree.
func (s *session) audit(agent, message time.Time) string {
	if s.agentSignal.IsZero() {
		return ""
	}
	since := func(t time.Time) string { return fmt.Sprintf("%.2f s after the answer", t.Sub(s.answered).Seconds()) }
	signal := "agent signalled " + since(s.agentSignal)
	switch {
	case !message.IsZero() && (agent.IsZero() || message.Before(agent)):
		return signal + " but the safe-harbor message played " + since(message)
	case agent.IsZero():
		return signal + " but no live speech from the dialer"
	case agent.Sub(s.agentSignal) > signalSlack:
		return signal + " but no live speech until " + since(agent)
	case s.agentSignal.Sub(agent) > signalSlack:
		return signal + " but live speech from " + since(agent)
	}
	return ""
}
