package media

import "time"

// Verdict is what an anchored call's media showed about the abandoned-call
// rule (16 CFR 310.4(b)(1)(iv), 47 CFR 64.1200(a)(7)): a call is abandoned
// when a person answers and is not connected to a live agent within
// 2 seconds of their completed greeting. Times are wall-clock; a zero time
// means "not heard" (or, for AgentSignal, "not signalled").
type Verdict struct {
	// Outcome is the call's verdict.
	Outcome Outcome
	// Answered is when the carrier's 2xx reached the dialer: media before
	// it is early media and not counted.
	Answered time.Time
	// GreetingStart and GreetingEnd bound the called person's first
	// utterance on the carrier-to-dialer stream after the answer.
	GreetingStart, GreetingEnd time.Time
	// AgentSpeech is the first live speech on the dialer-to-carrier stream
	// after the answer (noise, music and tones are not speech).
	AgentSpeech time.Time
	// Gap is AgentSpeech - GreetingEnd (negative when the agent spoke
	// over the greeting); for a call with no agent speech, SafeHarbor -
	// GreetingEnd, else the time from GreetingEnd to the end of the call.
	// Zero without a greeting.
	Gap time.Duration
	// AgentSignal is when the dialer said an agent was connected (a
	// configured header or SIP INFO); Disagreement says how the media
	// contradicted that signal, "" when it did not or there was none.
	AgentSignal  time.Time
	Disagreement string
	// SafeHarbor is when the campaign's registered safe-harbor message
	// started on the dialer leg (Relay.SafeHarbor); zero when not heard.
	SafeHarbor time.Time
	// Note says why a call is NotLive, or what was missing ("no G.711
	// audio from the dialer after the answer"): media the relay could not
	// analyse (another codec, SRTP) reads as no audio.
	Note string
}

// Outcome classifies an answered, anchored call for the 3 % safe harbor
// (16 CFR 310.4(b)(4)(i)): only live-answered calls count, and of those the
// abandoned ones.
type Outcome string

const (
	// NotLive: no greeting was heard after the answer (no media, silence,
	// or the call ended first); the call is not a live-answered call.
	NotLive Outcome = "not_live"
	// Connected: live speech on the dialer leg within 2 s of the greeting's end.
	Connected Outcome = "connected"
	// Abandoned: a greeting, then more than 2 s without live speech from
	// the dialer, or the called person hung up first.
	Abandoned Outcome = "abandoned"
	// AbandonedSafeHarbor: abandoned, and the campaign's registered
	// safe-harbor message was played (16 CFR 310.4(b)(4)(iii)).
	AbandonedSafeHarbor Outcome = "abandoned_safe_harbor"
)

// LiveAnswered reports whether o counts toward the campaign's live-answered
// calls, the denominator of the abandonment rate.
func (o Outcome) LiveAnswered() bool { return o != NotLive && o != "" }

// Abandoned reports whether o counts toward the campaign's abandoned calls.
func (o Outcome) Abandoned() bool { return o == Abandoned || o == AbandonedSafeHarbor }
