package media

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// play sends ps from c to to at their place on the RTP clock, from start
// on (a packet late behind its time goes at once).
func play(t *testing.T, c *net.UDPConn, to netip.AddrPort, ps []packet, start time.Time) {
	for _, p := range ps {
		time.Sleep(time.Until(start.Add(time.Duration(p.at) * time.Second / sampleRate)))
		b, err := (&rtp.Packet{Header: p.h, Payload: p.payload}).Marshal()
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := c.WriteToUDPAddrPort(b, to); err != nil {
			t.Error(err)
			return
		}
	}
}

// relayedCall is a call through a real Relay over loopback: its legs' audio
// after the answer, and what the carrier plays before it (early media).
type relayedCall struct {
	id, campaign   string
	early          audio // the carrier's, before the answer
	callee, dialer audio
	pcma, dtx      bool
	signal         time.Duration // the dialer's "agent connected", after the answer; 0 for none
}

// run plays the call through r in real time and returns its verdict.
func (c relayedCall) run(t *testing.T, r *Relay, rng *rand.Rand) Verdict {
	dialer, carrier := newEndpoint(t), newEndpoint(t)
	dPort, cPort := call(t, r, c.id, dialer, carrier)
	cs := sender{pcma: c.pcma, dtx: c.dtx, cnLevel: 60, ssrc: rng.Uint32(), ts: rng.Uint32()}
	ds := sender{pcma: c.pcma, ssrc: rng.Uint32(), ts: rng.Uint32()}

	start := time.Now()
	es := cs
	es.dtx = false
	play(t, carrier.rtp, cPort, es.packets(rng, c.early, c.early), start)
	cs.ts += uint32(len(c.early))
	answered := start.Add(time.Duration(len(c.early)) * time.Second / sampleRate)
	time.Sleep(time.Until(answered))
	r.Answered(c.id, c.campaign, time.Now())

	calleePackets, dialerPackets := cs.packets(rng, c.callee, c.callee), ds.packets(rng, c.dialer, c.dialer)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); play(t, carrier.rtp, cPort, calleePackets, answered) }()
	go func() { defer wg.Done(); play(t, dialer.rtp, dPort, dialerPackets, answered) }()
	if c.signal > 0 {
		time.Sleep(time.Until(answered.Add(c.signal)))
		r.AgentSignal(c.id, time.Now())
	}
	wg.Wait()
	time.Sleep(100 * time.Millisecond) // the last packets through the relay
	return r.Release(c.id)
}

// TestDetectionThroughRelay plays two calls at once through a relay over
// loopback UDP in real time: a PCMU call whose carrier plays speech as
// early media before the answer (not a greeting) and whose agent answers
// the greeting within a second; a PCMA call with silence suppression and
// comfort noise on the carrier's side, whose dialer plays the campaign's
// safe-harbor message after 2.5 s while it signalled an agent.
func TestDetectionThroughRelay(t *testing.T) {
	r := newRelay(t, 0)
	f, err := os.Open("testdata/safeharbor-acme.wav")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := r.SafeHarbor("spring-sale", f); err != nil {
		t.Fatal(err)
	}

	greeting := fixture(t, "greeting-hello-us")
	lead := ms(400)
	greetingEnd := time.Duration(lead+len(greeting)) * time.Second / sampleRate

	var connected relayedCall
	connected.id, connected.campaign = "call-connected", "spring-sale"
	connected.early.place(0, fixture(t, "agent-sarah")[:ms(800)])
	connected.callee.place(lead, greeting)
	connected.dialer.place(lead+len(greeting)+ms(1000), fixture(t, "agent-mike")[:ms(2000)])
	connected.callee.pad(len(connected.dialer))
	connected.signal = greetingEnd + time.Second

	var safeHarbor relayedCall
	safeHarbor.id, safeHarbor.campaign, safeHarbor.pcma, safeHarbor.dtx = "call-safe-harbor", "spring-sale", true, true
	safeHarbor.callee.place(lead, greeting)
	safeHarbor.dialer.place(lead+len(greeting)+ms(2500), fixture(t, "safeharbor-acme")[:ms(2600)])
	safeHarbor.callee.pad(len(safeHarbor.dialer))
	safeHarbor.signal = greetingEnd + 500*time.Millisecond

	var verdicts [2]Verdict
	var wg sync.WaitGroup
	for i, c := range []relayedCall{connected, safeHarbor} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			verdicts[i] = c.run(t, r, rand.New(rand.NewPCG(uint64(i), 13)))
		}()
	}
	wg.Wait()

	// Times across the two legs rest on each leg's first packet's arrival:
	// a loaded machine shifts them by its scheduling delay.
	const slack = 250 * time.Millisecond
	near := func(got, want time.Duration) bool { return got-want < slack && want-got < slack }
	v := verdicts[0]
	t.Logf("connected call: %+v", v)
	if v.Outcome != Connected || !near(v.GreetingEnd.Sub(v.Answered), greetingEnd) || !near(v.Gap, time.Second) || v.Disagreement != "" {
		t.Errorf("connected call: %s, greeting end %v (want %v), gap %v (want 1s), disagreement %q",
			v.Outcome, v.GreetingEnd.Sub(v.Answered), greetingEnd, v.Gap, v.Disagreement)
	}
	if !near(v.GreetingStart.Sub(v.Answered), time.Duration(lead)*time.Second/sampleRate) {
		t.Errorf("greeting start %v after the answer, want 400ms: the early media must not count", v.GreetingStart.Sub(v.Answered))
	}
	v = verdicts[1]
	t.Logf("safe-harbor call: %+v", v)
	if v.Outcome != AbandonedSafeHarbor || !near(v.SafeHarbor.Sub(v.GreetingEnd), 2500*time.Millisecond) || !v.AgentSpeech.IsZero() ||
		!strings.Contains(v.Disagreement, "but the safe-harbor message played") {
		t.Errorf("safe-harbor call: %s, message %v after the greeting (want 2.5s), agent %v, disagreement %q",
			v.Outcome, v.SafeHarbor.Sub(v.GreetingEnd), v.AgentSpeech, v.Disagreement)
	}
}

func TestReleaseWithoutAnswerIsNotLive(t *testing.T) {
	r := newRelay(t, 0)
	dialer, carrier := newEndpoint(t), newEndpoint(t)
	call(t, r, "ringing", dialer, carrier)
	if v := r.Release("ringing"); v.Outcome != NotLive || !v.Answered.IsZero() || v.Note != "not answered" {
		t.Errorf("a call released unanswered: %+v, want not live, not answered", v)
	}
	if v := r.Release("never-seen"); v.Outcome != NotLive {
		t.Errorf("a call never anchored: %+v, want not live", v)
	}
	call(t, r, "silent", dialer, carrier)
	at := time.Now()
	r.Answered("silent", "", at)
	r.AgentSignal("silent", at.Add(time.Second))
	v := r.Release("silent")
	if v.Outcome != NotLive || !v.Answered.Equal(at) || !strings.Contains(v.Note, "no G.711 audio") ||
		v.Disagreement != "agent signalled 1.00 s after the answer but no live speech from the dialer" {
		t.Errorf("an answered call without audio: %+v", v)
	}
}

func TestSafeHarborRejectsWhatItCannotUse(t *testing.T) {
	r := newRelay(t, 0)
	for name, tc := range map[string]struct {
		wav  []byte
		want error
	}{
		"not a WAV file": {[]byte("RIFF but not really"), ErrNotWAV},
		"44.1 kHz":       {wavFile(44100, make([]int16, 44100)), ErrNotWAV},
		"silence":        {wavFile(sampleRate, make([]int16, 3*sampleRate)), ErrShortMessage},
		"half a second":  {wavFile(sampleRate, fixture(t, "agent-john")[:ms(500)]), ErrShortMessage},
	} {
		if err := r.SafeHarbor("c", bytes.NewReader(tc.wav)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

// wavFile is a mono 16-bit PCM WAV file of samples at rate.
func wavFile(rate int, samples []int16) []byte {
	var b bytes.Buffer
	le := func(v uint32, n int) {
		for i := range n {
			b.WriteByte(byte(v >> (8 * i)))
		}
	}
	b.WriteString("RIFF")
	le(uint32(36+2*len(samples)), 4)
	b.WriteString("WAVEfmt ")
	le(16, 4)
	le(1, 2)
	le(1, 2)
	le(uint32(rate), 4)
	le(uint32(2*rate), 4)
	le(2, 2)
	le(16, 2)
	b.WriteString("data")
	le(uint32(2*len(samples)), 4)
	for _, s := range samples {
		le(uint32(uint16(s)), 2)
	}
	return b.Bytes()
}

// The call's first audio stream is analysed, not a video stream before it.
func TestFirstAudioStreamIsAnalysed(t *testing.T) {
	r := newRelay(t, 0)
	sdp := func(e endpoint) []byte {
		return crlf("v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
			"m=video 0 RTP/AVP 96", "m=video 40000 RTP/AVP 96", "a=rtpmap:96 H264/90000",
			"m=audio "+strconv.Itoa(port(e.rtp))+" RTP/AVP 0", "a=rtpmap:0 PCMU/8000")
	}
	for _, side := range []Side{Dialer, Carrier} {
		if _, err := r.Rewrite("video-first", side, sdp(newEndpoint(t))); err != nil {
			t.Fatal(err)
		}
	}
	s := r.session("video-first")
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.streams) != 3 {
		t.Fatalf("%d streams, want 3", len(s.streams))
	}
	for i, st := range s.streams {
		for side, l := range st.legs {
			if want := i == 2; (l.track != nil) != want || want && l.track != s.tracks[side] {
				t.Errorf("stream %d, leg %s: analysed %v, want %v", i, Side(side), l.track != nil, want)
			}
		}
	}
}
