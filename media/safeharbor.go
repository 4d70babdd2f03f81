package media

import (
	"fmt"
	"io"
)

// SafeHarbor registers campaign's safe-harbor message, the recording a
// dialer plays when no agent is free within 2 s of the greeting
// (16 CFR 310.4(b)(4)(iii), 47 CFR 64.1200(a)(7)(i)): wav is a WAV file of
// 8 kHz mono 16-bit PCM. A later call of the campaign whose dialer leg plays
// it is recorded as AbandonedSafeHarbor. A campaign has one message; a new
// one replaces it. Errors: ErrNotWAV, ErrShortMessage.
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

// fingerprint is a safe-harbor message's energy envelope, per 20 ms frame.
type fingerprint struct {
	frames int
}

func newFingerprint(samples []int16) (*fingerprint, error) {
	n := len(samples) / frameSamples
	if n < sampleRate/frameSamples {
		return nil, ErrShortMessage
	}
	return &fingerprint{frames: n}, nil
}
