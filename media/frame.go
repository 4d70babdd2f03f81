package media

import (
	"math"

	"github.com/zaf/g711"
)

// Static RTP payload types of the codecs analysed (RFC 3551 §6) and of
// comfort noise (RFC 3389 §4).
const (
	payloadPCMU = 0
	payloadCN   = 13
	payloadPCMA = 8
)

// decode maps a G.711 byte to its linear sample, per payload type: tables
// built once from zaf/g711, so decoding a packet allocates nothing.
var decode = func() (t [2][256]int16) {
	for b := range 256 {
		t[0][b] = g711.DecodeUlawFrame(uint8(b))
		t[1][b] = g711.DecodeAlawFrame(uint8(b))
	}
	return t
}()

// frameSamples is the analysis frame, 20 ms at 8 kHz: one packet of G.711
// at the usual packetization (RFC 3551 §4.5.14).
const frameSamples = 160

// silenceDB is the level given to a frame of digital silence (no packets,
// or all-zero samples), in dBov.
const silenceDB = -100

// levelDB is a frame's RMS level in dBov (0 dBov: a full-scale square
// wave, ITU-T G.100.1), silenceDB for digital silence.
func levelDB(x *[frameSamples]int16) float32 {
	var sum int64
	for _, v := range x {
		sum += int64(v) * int64(v)
	}
	if sum == 0 {
		return silenceDB
	}
	return float32(max(10*math.Log10(float64(sum)/frameSamples/(32768*32768)), silenceDB))
}

// subharmonicShare: a lag whose correlation is this share of the best is
// taken as the period over a longer best lag (a multiple of it).
const subharmonicShare = 0.85

// Pitch search range: 62.5-400 Hz, a voice's fundamental, as lags at the
// 4 kHz the periodicity is measured at.
const (
	minLag = 10
	maxLag = 64
)

// pitch measures how periodic a stream's frames are, the mark of voiced
// speech (and of music and tones, which speech.go tells apart by other
// means). It keeps the previous frame, halved to 4 kHz, so that long lags
// reach back across the frame's start.
type pitch struct {
	hist [frameSamples]float32 // previous frame then this one, at 4 kHz
}

// reset forgets the previous frame (after a gap in the audio).
func (p *pitch) reset() { p.hist = [frameSamples]float32{} }

// measure takes the next frame and returns its periodicity, the largest
// normalized autocorrelation over lags minLag..maxLag (0: none, 1: a
// perfectly periodic signal), and that lag in 4 kHz samples.
func (p *pitch) measure(x *[frameSamples]int16) (periodicity float32, lag int) {
	const half = frameSamples / 2
	copy(p.hist[:half], p.hist[half:])
	cur := p.hist[half:]
	var e0 float32
	for i := range cur {
		cur[i] = (float32(x[2*i]) + float32(x[2*i+1])) / 2
		e0 += cur[i] * cur[i]
	}
	if e0 == 0 {
		return 0, 0
	}
	// eL is the energy of the window lag samples back; slid one sample per lag.
	var eL float32
	for i := half - minLag; i < frameSamples-minLag; i++ {
		eL += p.hist[i] * p.hist[i]
	}
	var r [maxLag + 2]float32
	for l := minLag; l <= maxLag; l++ {
		if l > minLag {
			in, out := p.hist[half-l], p.hist[frameSamples-l]
			eL += in*in - out*out
		}
		if eL <= 0 {
			continue
		}
		past := p.hist[half-l : frameSamples-l]
		var c0, c1, c2, c3 float32 // four sums: independent adds run in parallel
		for i := 0; i < half; i += 4 {
			c0 += cur[i] * past[i]
			c1 += cur[i+1] * past[i+1]
			c2 += cur[i+2] * past[i+2]
			c3 += cur[i+3] * past[i+3]
		}
		r[l] = (c0 + c1 + c2 + c3) / float32(math.Sqrt(float64(e0*eL)))
		periodicity = max(periodicity, r[l])
	}
	// A signal periodic at lag L is so at 2L, 3L... too, and a period
	// between two lags makes one multiple score a little higher than
	// another: the first peak near the best is the period.
	for l := minLag; l <= maxLag; l++ {
		if r[l] >= subharmonicShare*periodicity && r[l] >= r[l-1] && r[l] >= r[l+1] {
			return r[l], l
		}
	}
	return periodicity, lag
}
