package media

// Speech-likeness on the dialer-to-carrier stream. Energy alone takes hold
// music, tones and office noise for an agent (the research prototype's
// false "connected" at -35 dBov pink noise), so a stretch of audio counts
// as speech only when it has the shape of syllables:
//
//   - voiced: loud frames whose waveform repeats at a voice's pitch
//     (normalized autocorrelation >= voicedPeriodicity at 62.5-400 Hz),
//     the pitch moving smoothly from frame to frame (maxLagStep), which
//     noise does not;
//   - gliding: a syllable's pitch and level move; a tone's or a musical
//     note's stay within one lag (0.25 ms) and steadyDB for steadyFrames
//     or more;
//   - syllabic: voiced runs of 60-800 ms peaking syllablePeakDB over the
//     noise floor (speech at -20 dBov over noise at -40), at least syllablesForSpeech of
//     them each starting within 1 s of the previous one's end, i.e. the
//     2-8 Hz energy modulation of running speech; a sustained tone or
//     chord is one long run.
//
// Speech starts at the first loud frame before the first of those
// syllables.
const (
	voicedPeriodicity  = 0.7
	steadyFrames       = 6 // 120 ms on one pitch at one level: a note or a tone
	steadyDB           = 2
	syllableMinFrames  = 3  // 60 ms
	syllableMaxFrames  = 40 // 800 ms: longer is a held note or a tone
	syllableGapFrames  = 50 // 1 s between syllables of one stretch of speech
	syllablesForSpeech = 3
	syllablePeakDB     = 18 // a syllable's loudest frame over the noise floor
	maxLagStep         = 3  // a voice's pitch lag moves by at most this from frame to frame
	leadInFrames       = 20 // 400 ms: a pause within a stretch of speech
)

// speech finds the first live speech on a stream: frames are counted from
// the answer.
type speech struct {
	floor noiseFloor
	pitch pitch

	loudFrom int // first frame of the current loud stretch; -1 when not loud

	// the current voiced run
	runFrom, runLen   int     // runFrom: the loud frame it started from
	lag, lagLen       int     // the pitch held since lagLen frames
	level             float32 // ... and the level held with it
	steady            bool
	peak              float32 // the run's loudest frame, dBov
	prevLag           int     // the run's last frame's pitch lag
	chainFrom, chainN int     // the syllables so far, each within syllableGapFrames of the last
	lastSyllable      int     // the frame after the last syllable's end

	// the last loud stretches of syllableMinFrames or more, [start, end)
	stretches  [8][2]int
	nStretches int

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
		if voiced && s.runLen > 0 && (lag-s.prevLag > maxLagStep || s.prevLag-lag > maxLagStep) {
			s.endRun(k) // the pitch jumped: noise, or a new voice
		}
		if voiced {
			s.voiced(lag, level)
		}
	} else {
		if s.loudFrom >= 0 && k-s.loudFrom >= syllableMinFrames {
			s.stretches[s.nStretches%len(s.stretches)] = [2]int{s.loudFrom, k}
			s.nStretches++
		}
		s.loudFrom = -1
		s.pitch.reset()
	}
	if !voiced && s.runLen > 0 {
		s.endRun(k)
	}
	s.floor.update(level, loud)
}

// voiced extends the current voiced run by a frame at pitch lag and level.
func (s *speech) voiced(lag int, level float32) {
	if s.runLen == 0 {
		s.runFrom, s.lag, s.level, s.lagLen, s.steady, s.peak = s.loudFrom, lag, level, 0, false, level
	}
	s.runLen++
	s.prevLag = lag
	s.peak = max(s.peak, level)
	if dl, dv := lag-s.lag, level-s.level; dl >= -1 && dl <= 1 && dv >= -steadyDB && dv <= steadyDB {
		s.lagLen++
	} else {
		s.lag, s.level, s.lagLen = lag, level, 1
	}
	if s.lagLen >= steadyFrames {
		s.steady = true
	}
}

// endRun closes the voiced run at frame k (the first frame after it).
func (s *speech) endRun(k int) {
	syllable := s.runLen >= syllableMinFrames && s.runLen <= syllableMaxFrames && !s.steady &&
		s.peak >= s.floor.db+syllablePeakDB
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
		s.onset = s.start(s.chainFrom)
	}
}

// start takes speech back from frame from to the start of the loud
// stretches just before it (each ending within leadInFrames of the next):
// the words before the first syllable that counted, whose voicing noise
// or a diphthong ("Hi") blurred.
func (s *speech) start(from int) int {
	for i := s.nStretches - 1; i >= max(s.nStretches-len(s.stretches), 0); i-- {
		st := s.stretches[i%len(s.stretches)]
		if st[0] >= from {
			continue
		}
		if st[1] < from-leadInFrames {
			break
		}
		from = st[0]
	}
	return from
}
