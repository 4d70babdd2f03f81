package media

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/zaf/g711"
)

var (
	fixturesMu sync.Mutex
	fixtures   = map[string][]int16{}
)

// fixture returns the samples of testdata/NAME.wav (see testdata/gen.sh).
func fixture(t testing.TB, name string) []int16 {
	t.Helper()
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if s, ok := fixtures[name]; ok {
		return s
	}
	f, err := os.Open(filepath.Join("testdata", name+".wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := readWAV(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	fixtures[name] = s
	return s
}

// ms is a duration in samples.
func ms(d float64) int { return int(d * sampleRate / 1000) }

// audio is one leg's signal, built by placing fixtures at sample offsets.
type audio []int16

// place adds s at sample offset at (clipping), growing a as needed.
func (a *audio) place(at int, s []int16) {
	if n := at + len(s); n > len(*a) {
		*a = append(*a, make([]int16, n-len(*a))...)
	}
	for i, v := range s {
		(*a)[at+i] = clip(int32((*a)[at+i]) + int32(v))
	}
}

// loop adds s repeated from at for n samples.
func (a *audio) loop(at, n int, s []int16) {
	for done := 0; done < n; done += len(s) {
		a.place(at+done, s[:min(len(s), n-done)])
	}
}

// pad makes a n samples long at least.
func (a *audio) pad(n int) {
	if n > len(*a) {
		*a = append(*a, make([]int16, n-len(*a))...)
	}
}

func clip(v int32) int16 { return int16(max(min(v, math.MaxInt16), math.MinInt16)) }

// sender is how a leg's audio goes out as RTP.
type sender struct {
	pcma bool
	// dtx: frames of digital silence in the clean signal are not sent; a
	// CN packet (RFC 3389) at cnLevel -dBov starts each such stretch.
	dtx     bool
	cnLevel byte
	loss    float64 // fraction of packets lost
	ssrc    uint32
	ts      uint32 // first timestamp
}

// packets encodes a (and the clean signal, for DTX) into 20 ms RTP
// packets; each gets its RTP header and payload and the sample it starts at.
type packet struct {
	h       rtp.Header
	payload []byte
	at      int
}

func (l sender) packets(rng *rand.Rand, a, clean audio) []packet {
	var out []packet
	seq := uint16(rng.IntN(60000))
	silent := false
	for at := 0; at+frameSamples <= len(a); at += frameSamples {
		h := rtp.Header{Version: 2, PayloadType: payloadPCMU, SequenceNumber: seq, Timestamp: l.ts + uint32(at), SSRC: l.ssrc}
		if l.pcma {
			h.PayloadType = payloadPCMA
		}
		if l.dtx {
			quiet := true
			for _, v := range clean[at : at+frameSamples] {
				if v != 0 {
					quiet = false
					break
				}
			}
			if quiet && silent {
				continue
			}
			if quiet {
				silent = true
				seq++
				out = append(out, packet{h: rtp.Header{Version: 2, PayloadType: payloadCN, SequenceNumber: h.SequenceNumber, Timestamp: h.Timestamp, SSRC: l.ssrc}, payload: []byte{l.cnLevel}, at: at})
				continue
			}
			if silent {
				h.Marker = true
			}
			silent = false
		}
		seq++
		if rng.Float64() < l.loss {
			continue
		}
		p := make([]byte, frameSamples)
		for i, v := range a[at : at+frameSamples] {
			if l.pcma {
				p[i] = g711.EncodeAlawFrame(v)
			} else {
				p[i] = g711.EncodeUlawFrame(v)
			}
		}
		out = append(out, packet{h: h, payload: p, at: at})
	}
	return out
}

// analyse runs a call's two legs through a session's detection as if
// their packets arrived in real time with up to jitter of delay, the
// answer at sample 0 of both; it returns the verdict at the end of the
// longer leg.
func analyse(t testing.TB, rng *rand.Rand, carrier, dialer []packet, fp *fingerprint, jitter time.Duration) Verdict {
	t.Helper()
	s := &session{tracks: [2]*track{newTrack(Dialer), newTrack(Carrier)}}
	answered := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	s.answered = answered
	if fp != nil {
		s.tracks[Dialer].message = newMatcher(fp)
	}
	const origin = int64(time.Second) // relay clock at the answer
	end := 0
	feed := func(tr *track, ps []packet) {
		for _, p := range ps {
			delay := int64(0)
			if jitter > 0 {
				delay = rng.Int64N(int64(jitter))
			}
			now := origin + int64(p.at)*int64(time.Second)/sampleRate + delay
			tr.packet(&p.h, p.payload, now, origin)
			end = max(end, p.at+frameSamples)
		}
	}
	// the legs interleave in real life; each track is independent, so one after the other is the same
	feed(s.tracks[Carrier], carrier)
	feed(s.tracks[Dialer], dialer)
	return s.verdict(answered.Add(time.Duration(end) * time.Second / sampleRate))
}
