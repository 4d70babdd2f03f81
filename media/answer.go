package media

import "time"

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
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answered.IsZero() {
		s.answered, s.campaign = at, campaign
	}
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

// verdict is what the session's media showed; s.mu is held.
func (s *session) verdict() Verdict {
	return Verdict{Outcome: NotLive, Answered: s.answered, AgentSignal: s.agentSignal}
}

// frameSamples is the analysis frame, 20 ms at 8 kHz: one packet of
// G.711 at the usual packetization (RFC 3551 §4.5.14).
const frameSamples = 160
