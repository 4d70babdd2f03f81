package media

// Greeting timing, in 20 ms frames. A greeting starts with 60 ms of speech
// (app_amd's min_word_length is 100 ms; 60 ms keeps a short "Yes?") and
// ends at its last speech frame once 600 ms of silence follow (app_amd's
// after_greeting_silence is 800 ms, its between_words_silence 50 ms; a
// pause between the words of one greeting is shorter than 600 ms).
const (
	greetingMinFrames     = 3
	greetingSilenceFrames = 30
)

// tailPeriodicity is the periodicity that, with a pitch that moves
// smoothly, marks a quiet frame as the voiced end of a word.
const tailPeriodicity = 0.6

// hissRatio is the hiss (see hiss) that marks a quiet frame after speech
// as a fricative, the /s/ of "this" or "yes": on the fixtures 3.1-3.3
// alone, 2.8-3.0 over white noise at -50 dBov, 2.5-2.8 over pink noise.
// White noise alone gives 2.0, but must then also be 3 dB over its own
// floor; pink noise gives less.
const hissRatio = 2.2

// hiss is the energy of the frame's first difference over its energy: 2
// for white noise, 0 toward low frequencies, 4 toward 4 kHz (the top of
// G.711's band).
func hiss(x *[frameSamples]int16) float32 {
	var e, d int64
	for i, v := range x {
		e += int64(v) * int64(v)
		if i > 0 {
			dv := int64(v) - int64(x[i-1])
			d += dv * dv
		}
	}
	if e == 0 {
		return 0
	}
	return float32(d) / float32(e)
}

// greeting finds the called person's first utterance on the
// carrier-to-dialer stream: frames are counted from the answer.
type greeting struct {
	floor      noiseFloor
	pitch      pitch
	lag        int  // the last frame's pitch lag, 0 after a frame without samples
	loud       bool // the last frame was over the hold level
	run        int  // consecutive frames above the onset level, before the start
	start, end int  // frames; -1 until found
	last       int  // the last speech frame since the start
}

func newGreeting() greeting { return greeting{start: -1, end: -1} }

// done reports whether the greeting has ended: later frames change nothing.
func (g *greeting) done() bool { return g.end >= 0 }

// frame takes frame k's level in dBov and its samples, nil for a frame of
// comfort noise or silence. Once the greeting started, a frame continues
// it when loud enough, or right after speech when voiced (periodic) or a
// hiss (a fricative) a few dB over the noise: the quiet end of a word that
// noise at -50 dBov would hide from a level threshold.
func (g *greeting) frame(k int, level float32, x *[frameSamples]int16) {
	if g.done() {
		return
	}
	var speech bool
	if g.start < 0 {
		speech = level > g.floor.onset()
		if speech {
			g.run++
		} else {
			g.run = 0
		}
		if g.run >= greetingMinFrames {
			g.start, g.last = k-g.run+1, k
		}
	} else {
		loud := level > g.floor.hold()
		speech = loud
		if x != nil {
			per, lag := g.pitch.measure(x)
			// the tail goes on from a speech frame: right after a loud
			// one, or with the pitch of the tail frame before (a voice's
			// pitch moves little from frame to frame; in noise the best
			// lag jumps about)
			smooth := g.lag > 0 && lag-g.lag >= -2 && lag-g.lag <= 2
			voiced := per >= tailPeriodicity && (g.loud || smooth)
			tail := level > g.floor.voiced() && g.run > 0 && (voiced || hiss(x) >= hissRatio)
			speech = loud || tail
			g.lag = lag
		} else {
			g.pitch.reset()
			g.lag = 0
		}
		g.loud = loud
		if speech {
			g.run++
		} else {
			g.run = 0
		}
		// two frames in a row: a lone loud frame in the silence after
		// the greeting is a click or a noise burst
		if g.run >= 2 {
			g.last = k
		} else if k-g.last >= greetingSilenceFrames {
			g.end = g.last + 1
		}
	}
	g.floor.update(level, speech)
}

// bounds returns the greeting's start and end frames, ok false when no
// greeting started; a greeting still going when the call ended ends at its
// last speech frame.
func (g *greeting) bounds() (start, end int, ok bool) {
	if g.start < 0 {
		return 0, 0, false
	}
	if g.end >= 0 {
		return g.start, g.end, true
	}
	return g.start, g.last + 1, true
}
