package media

// Speech-likeness on the dialer-to-carrier stream. Energy alone takes hold
// music, tones and office noise for an agent (the research prototype's
// false "connected" at -35 dBov pink noise), so a stretch of audio counts
// as speech only when it has the shape of syllables:
//
//   - voiced: loud frames whose waveform repeats at a voice's pitch
//     (normalized autocorrelation >= voicedPeriodicity at 62.5-400 Hz), which
//     noise does not;
//   - gliding: a syllable's pitch moves; a tone's or a musical note's stays
//     on one lag (to 0.25 ms) for steadyFrames or more;
//   - syllabic: voiced runs of 60-800 ms, at least syllablesForSpeech of
//     them each starting within 1 s of the previous one's end, i.e. the
//     2-8 Hz energy modulation of running speech; a sustained tone or
//     chord is one long run.
//
// Speech starts at the first loud frame before the first of those
// syllables.
const (
	voicedPeriodicity  = 0.7
	steadyFrames       = 8  // 160 ms on one pitch: a note or a tone
	syllableMinFrames  = 3  // 60 ms
	syllableMaxFrames  = 40 // 800 ms: longer is a held note or a tone
	syllableGapFrames  = 50 // 1 s between syllables of one stretch of speech
	syllablesForSpeech = 3
)

// speech finds the first live speech on a stream: frames are counted from
// the answer.
type speech struct {
	floor noiseFloor
	pitch pitch

	loudFrom int // first frame of the current loud stretch; -1 when not loud

	// the current voiced run
	runFrom, runLen   int // runFrom: the loud frame it started from
	lag, lagLen       int // the pitch held since lagLen frames
	steady            bool
	chainFrom, chainN int // the syllables so far, each within syllableGapFrames of the last
	lastSyllable      int // the frame after the last syllable's end

	onset int // the frame speech started at; -1 until found
}

func newSpeech() speech { return speech{loudFrom: -1, lastSyllable: -1, onset: -1} }

// reset forgets all but the noise floor, for audio that must not count
// (a safe-harbor message); frames before next are not looked at again.
func (s *speech) reset() {
	floor := s.floor
	*s = newSpeech()
	s.floor = floor
}

// found reports whether speech was found; later frames change nothing.
func (s *speech) found() bool { return s.onset >= 0 }

// frame takes frame k: its level in dBov and its samples, nil for a frame
// of comfort noise or silence.
func (s *speech) frame(k int, level float32, x *[frameSamples]int16) {
	if s.found() {
		return
	}
	loud := level > s.floor.onset()
	voiced := false
	if loud && x != nil {
		if s.loudFrom < 0 {
			s.loudFrom = k
		}
		per, lag := s.pitch.measure(x)
		voiced = per >= voicedPeriodicity
		if voiced {
			s.voiced(k, lag)
		}
	} else {
		s.loudFrom = -1
		s.pitch.reset()
	}
	if !voiced && s.runLen > 0 {
		s.endRun(k)
	}
	s.floor.update(level, loud)
}

// voiced extends the current voiced run by frame k at pitch lag.
func (s *speech) voiced(k, lag int) {
	if s.runLen == 0 {
		s.runFrom, s.lag, s.lagLen, s.steady = s.loudFrom, lag, 0, false
	}
	s.runLen++
	if lag == s.lag {
		s.lagLen++
	} else {
		s.lag, s.lagLen = lag, 1
	}
	if s.lagLen >= steadyFrames {
		s.steady = true
	}
}

// endRun closes the voiced run at frame k (the first frame after it).
func (s *speech) endRun(k int) {
	syllable := s.runLen >= syllableMinFrames && s.runLen <= syllableMaxFrames && !s.steady
	s.runLen = 0
	if !syllable {
		return
	}
	if s.chainN == 0 || s.runFrom-s.lastSyllable > syllableGapFrames {
		s.chainFrom, s.chainN = s.runFrom, 0
	}
	s.chainN++
	s.lastSyllable = k
	if s.chainN >= syllablesForSpeech {
		s.onset = s.chainFrom
	}
}
