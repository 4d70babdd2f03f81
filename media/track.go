package media

import (
	"sync"
	"time"

	"github.com/pion/rtp"
)

// Analysis runs from the answer for analysisFrames (30 s): the verdict
// rests on the greeting and what follows it within seconds; a call whose
// agent is first heard later is abandoned either way.
const (
	frameDuration  = 20 * time.Millisecond
	analysisFrames = int(30 * time.Second / frameDuration)
)

// track turns one direction of a call's first audio stream into 20 ms
// frames counted from the answer, and feeds them to that direction's
// detectors: the greeting on the carrier's stream; live speech and the
// campaign's safe-harbor message on the dialer's.
//
// The audio timeline is the RTP timestamp (RFC 3550 §5.1), not the arrival
// time: a timestamp jump is silence the sender suppressed (RFC 3551 §4.1),
// played out as silence, or as comfort noise at its level after a CN packet
// (RFC 3389). Only the first packet of a source (SSRC), and one whose
// timestamp strays more than a second from its arrival, are placed by
// arrival time. Packets before the answer are early media and not looked
// at; late packets whose place was analysed already are passed over.
type track struct {
	mu   sync.Mutex
	side Side // whose audio

	started bool
	ssrc    uint32
	ts      uint32 // the last packet's timestamp
	at      int64  // its first sample, in samples since the answer
	next    int64  // the sample after the last one taken
	cn      float32
	inCN    bool // the last packet was comfort noise: gaps play it at level cn
	frame   [frameSamples]int16
	last    [frameSamples]int16 // the last frame analysed, for concealing a lost packet
	filled  int                 // samples in frame
	frames  int                 // frames completed
	g711    bool

	greeting greeting // Carrier
	speech   speech   // Dialer
	message  matcher  // Dialer, when the campaign has a safe-harbor message
	// heard is the first live speech of the dialer's that was not the
	// safe-harbor message, -1 for none; skipUntil the frame the message
	// ends at, while it plays.
	heard, skipUntil int
}

func newTrack(side Side) *track {
	return &track{side: side, greeting: newGreeting(), speech: newSpeech(), message: newMatcher(nil), heard: -1}
}

// done reports whether later audio can change nothing.
func (t *track) done() bool {
	if t.frames >= analysisFrames {
		return true
	}
	if t.side == Carrier {
		return t.greeting.done()
	}
	return t.heard >= 0 && (t.message.fp == nil || t.message.start >= 0)
}

// maxConcealed is the longest loss concealed, in frames (40 ms).
const maxConcealed = 2

// samplesSince converts nanoseconds to samples.
func samplesSince(ns int64) int64 { return ns * sampleRate / int64(time.Second) }

// packet takes an RTP packet that arrived now (relay clock, ns), answered
// being the relay-clock time of the answer, 0 before it. It allocates
// nothing.
func (t *track) packet(h *rtp.Header, payload []byte, now, answered int64) {
	if answered == 0 || now < answered {
		return // early media
	}
	codec := 0
	switch h.PayloadType {
	case payloadPCMU:
	case payloadPCMA:
		codec = 1
	case payloadCN:
	default:
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done() {
		return
	}
	arrival := samplesSince(now - answered)
	if t.started && h.SSRC == t.ssrc {
		at := t.at + int64(int32(h.Timestamp-t.ts))
		if d := at - arrival; d > sampleRate || d < -sampleRate {
			at = arrival // timestamps that do not follow the clock
		}
		t.at = at
	} else {
		t.started, t.ssrc, t.at = true, h.SSRC, arrival
	}
	t.ts = h.Timestamp
	if t.at < t.next {
		return // late, or a new source overlapping what was taken
	}
	t.fill(t.at)
	if h.PayloadType == payloadCN {
		// RFC 3389 §3: the level, in -dBov, in the payload's first byte.
		if len(payload) > 0 {
			t.cn, t.inCN = -float32(payload[0]&0x7f), true
		}
		return
	}
	t.inCN, t.g711 = false, true
	table := &decode[codec]
	for _, b := range payload {
		t.frame[t.filled] = table[b]
		t.filled++
		t.next++
		if t.filled == frameSamples {
			t.analyse(&t.frame)
			if t.done() {
				return
			}
		}
	}
}

// fill plays out the gap up to sample at as silence, or comfort noise.
func (t *track) fill(at int64) {
	// A gap of a packet or two with no CN packet before it is loss, not
	// suppressed silence: it is concealed by repeating the last frame, as
	// a receiver's jitter buffer does, so that a lost packet does not cut
	// a word in two.
	conceal := !t.inCN && t.filled == 0 && t.g711 && at-t.next <= maxConcealed*frameSamples
	for t.next < at && !t.done() {
		if t.filled == 0 && at-t.next >= frameSamples {
			if conceal {
				t.analyse(&t.last)
				t.next += frameSamples
				continue
			}
			t.analyse(nil)
			t.next += frameSamples
			continue
		}
		t.frame[t.filled] = 0
		t.filled++
		t.next++
		if t.filled == frameSamples {
			t.analyse(&t.frame)
		}
	}
}

// analyse hands the next frame to the detectors: x holds its samples, nil
// for a frame with no packet (silence, or comfort noise).
func (t *track) analyse(x *[frameSamples]int16) {
	k := t.frames
	t.frames++
	t.filled = 0
	level := float32(silenceDB)
	switch {
	case x != nil:
		level = levelDB(x)
		t.last = *x
	case t.inCN:
		level = t.cn
	}
	if t.side == Carrier {
		t.greeting.frame(k, level, x)
		return
	}
	if t.message.frame(k, level) {
		t.sawMessage()
	}
	if k < t.skipUntil || t.heard >= 0 {
		return
	}
	t.speech.frame(k, level, x)
	// With a message to look for, speech is the agent's only once it had
	// time to match: the message is recognized a fingerprint after it starts.
	if t.speech.found() && (t.message.fp == nil || k >= t.speech.onset+len(t.message.fp.env)+matchSlackFrames) {
		t.heard = t.speech.onset
	}
}

// matchSlackFrames is how far before a recognized message's start speech
// may have been found and still be the message (its first sounds, the
// loud frames before its first syllable).
const matchSlackFrames = 10

// sawMessage follows the safe-harbor message's recognition: speech found
// from its start on was the message, and the speech search starts again
// after its end.
func (t *track) sawMessage() {
	start := t.message.start
	if t.speech.found() && t.speech.onset < start-matchSlackFrames {
		t.heard = t.speech.onset // an agent spoke before the message
		return
	}
	t.speech.reset()
	t.skipUntil = start + t.message.fp.frames
}

// agent returns the frame the dialer's live speech started at, -1 for none.
func (t *track) agent() int {
	if t.heard >= 0 {
		return t.heard
	}
	return t.speech.onset
}
