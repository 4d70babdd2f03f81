package media

import (
	"fmt"
	"io"
	"math"
)

// SafeHarbor registers campaign's safe-harbor message, the recording a
// dialer plays when no agent is free within 2 s of the greeting
// (16 CFR 310.4(b)(4)(iii), 47 CFR 64.1200(a)(7)(i)): wav is a WAV file of
// 8 kHz mono 16-bit PCM. A call of the campaign answered later whose dialer
// leg plays it is recorded as AbandonedSafeHarbor. A campaign has one
// message; a new one replaces it. Errors: ErrNotWAV, ErrShortMessage.
func (r *Relay) SafeHarbor(campaign string, wav io.ReadSeeker) error {
	samples, err := readWAV(wav)
	if err != nil {
		return err
	}
	fp, err := newFingerprint(samples)
	if err != nil {
		return fmt.Errorf("campaign %q: %w", campaign, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.messages == nil {
		r.messages = map[string]*fingerprint{}
	}
	r.messages[campaign] = fp
	return nil
}

// The fingerprint of a message is its level envelope: one level per 20 ms
// frame, clipped at envelopeFloorDB so that line noise up to -40 dBov does
// not change it, over the message's first fingerprintFrames (2 s) of sound.
// A stream matches when the Pearson correlation of its last frames'
// envelope with the fingerprint reaches matchCorrelation: a play of the
// message through G.711, at any offset within a frame, with noise up to
// -40 dBov, correlates above 0.9; other speech, even the same voice, stays
// far below (docs/media.md gives the measured figures).
const (
	envelopeFloorDB   = -40
	fingerprintFrames = 100
	minMessageFrames  = 50 // 1 s of sound
	matchCorrelation  = 0.8
)

// fingerprint is a safe-harbor message's level envelope, mean removed.
type fingerprint struct {
	env    []float32 // fingerprintFrames or fewer, mean removed
	norm   float32   // sqrt(sum of env²)
	frames int       // the message's length from its first sound, in frames
}

// newFingerprint takes a message's samples; ErrShortMessage when less than
// minMessageFrames of it is louder than onsetFloorDB.
func newFingerprint(samples []int16) (*fingerprint, error) {
	var levels []float32
	loud := 0
	for k := 0; (k+1)*frameSamples <= len(samples); k++ {
		l := levelDB((*[frameSamples]int16)(samples[k*frameSamples:]))
		if len(levels) == 0 && l <= onsetFloorDB {
			continue // leading silence
		}
		levels = append(levels, l)
		if l > onsetFloorDB {
			loud++
		}
	}
	if loud < minMessageFrames {
		return nil, ErrShortMessage
	}
	fp := &fingerprint{frames: len(levels)}
	levels = levels[:min(len(levels), fingerprintFrames)]
	var mean float32
	for i, l := range levels {
		levels[i] = max(l, envelopeFloorDB)
		mean += levels[i]
	}
	mean /= float32(len(levels))
	var ss float32
	for i := range levels {
		levels[i] -= mean
		ss += levels[i] * levels[i]
	}
	fp.env, fp.norm = levels, float32(math.Sqrt(float64(ss)))
	return fp, nil
}

// matcher looks for a fingerprint in a stream's envelope.
type matcher struct {
	fp    *fingerprint
	ring  [fingerprintFrames]float32 // the last frames' clipped levels
	n     int                        // frames taken
	sum   float32                    // of the last len(fp.env) levels
	start int                        // the frame the message started at; -1 until matched
}

func newMatcher(fp *fingerprint) matcher { return matcher{fp: fp, start: -1} }

// frame takes frame k's level and reports whether the message was
// recognized with it; start then says where the message began.
func (m *matcher) frame(k int, level float32) bool {
	if m.fp == nil || m.start >= 0 {
		return false
	}
	n := len(m.fp.env)
	l := max(level, envelopeFloorDB)
	slot := m.n % n
	if m.n >= n {
		m.sum -= m.ring[slot]
	}
	m.ring[slot] = l
	m.sum += l
	m.n++
	if m.n < n {
		return false
	}
	// the window's oldest frame is at slot+1
	mean := m.sum / float32(n)
	var dot, ss float32
	for i, e := range m.fp.env {
		v := m.ring[(slot+1+i)%n] - mean
		dot += v * e
		ss += v * v
	}
	if ss == 0 || dot/(float32(math.Sqrt(float64(ss)))*m.fp.norm) < matchCorrelation {
		return false
	}
	m.start = k - n + 1
	return true
}
