package media

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var (
	greetings = []string{"greeting-hello-us", "greeting-hello-f", "greeting-hello-gb", "greeting-maria", "greeting-yeah", "greeting-whos", "greeting-yes", "greeting-whois"}
	agents    = []string{"agent-john", "agent-sarah", "agent-mike", "agent-lee"}
	nonSpeech = []string{"noise-white-40", "noise-pink-40", "noise-pink-50", "music-pluck", "music-melody", "music-pad", "music-arpeggio", "tone-ringback", "tone-1004", "tone-busy"}
)

// synthCall is one synthetic call: the callee's greeting after lead samples of
// silence, then after gap the dialer's audio (an agent, a message, noise,
// music), line noise on both legs.
type synthCall struct {
	greeting string
	lead     int
	dialer   string  // fixture the dialer plays from greeting end + gap; "" none
	gap      float64 // ms
	noise    string  // fixture looped on both legs; "" none
	pcma     bool
	dtx      bool
	loss     float64
	fp       *fingerprint
	offset   int // samples of the dialer audio before the gap that the dialer plays from its first frame (fills, to vary sub-frame alignment)
}

// run builds the call's audio and analyses it; it returns the verdict and
// the true greeting end, as a duration since the answer.
func (c synthCall) run(t testing.TB, rng *rand.Rand) (Verdict, time.Duration) {
	t.Helper()
	g := fixture(t, c.greeting)
	end := c.lead + len(g)
	var callee, dialer audio
	callee.place(c.lead, g)
	total := end + ms(5000)
	if c.dialer != "" {
		d := fixture(t, c.dialer)
		dialer.place(end+ms(c.gap), d)
		total = max(total, end+ms(c.gap)+len(d)+ms(300))
	}
	callee.pad(total)
	dialer.pad(total)
	cleanCallee, cleanDialer := slices.Clone(callee), slices.Clone(dialer)
	if c.noise != "" {
		n := fixture(t, c.noise)
		callee.loop(0, total, n[rng.IntN(len(n)/2):])
		dialer.loop(0, total, n[rng.IntN(len(n)/2):])
	}
	cs := sender{pcma: c.pcma, dtx: c.dtx, cnLevel: 70, loss: c.loss, ssrc: rng.Uint32(), ts: rng.Uint32()}
	ds := cs
	ds.ssrc, ds.ts = rng.Uint32(), rng.Uint32()
	v := analyse(t, rng, cs.packets(rng, callee, cleanCallee), ds.packets(rng, dialer, cleanDialer), c.fp, 5*time.Millisecond)
	return v, time.Duration(end) * time.Second / sampleRate
}

func (c synthCall) String() string {
	return fmt.Sprintf("%s lead %d, %s after %.0f ms, noise %q pcma %v dtx %v loss %.2f", c.greeting, c.lead, c.dialer, c.gap, c.noise, c.pcma, c.dtx, c.loss)
}

// p95 is the 95th percentile of |d|.
func p95(ds []time.Duration) time.Duration {
	abs := make([]time.Duration, len(ds))
	for i, d := range ds {
		abs[i] = max(d, -d)
	}
	slices.Sort(abs)
	return abs[(len(abs)*95+99)/100-1]
}

// TestDetectionSweep measures the detection targets (issue 13) over
// synthetic calls: greeting end within 60 ms (p95) at noise up to -50 dBov
// and 150 ms at -40 dBov; verdicts all right for gaps outside 1.8-2.2 s and
// at least 95 % inside.
func TestDetectionSweep(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 2))
	gaps := []float64{300, 1000, 1500, 1800, 1900, 2100, 2200, 3000, 5000, -1}
	noises := []string{"", "noise-white-50", "noise-pink-50", "noise-white-40", "noise-pink-40"}
	errs := map[string][]time.Duration{}
	var outside, outsideOK, inside, insideOK int
	for i := 0; ; i++ {
		g, a, gap, noise := greetings[i%len(greetings)], agents[i/len(greetings)%len(agents)], gaps[i/len(greetings)/len(agents)%len(gaps)], noises[i/len(greetings)/len(agents)/len(gaps)%len(noises)]
		if i == len(greetings)*len(agents)*len(gaps)*len(noises) {
			break
		}
		c := synthCall{greeting: g, lead: ms(300) + rng.IntN(ms(700)), dialer: a, gap: gap, noise: noise, pcma: i%2 == 1}
		if gap < 0 {
			c.dialer = ""
		}
		if noise == "" {
			c.dtx = i%3 == 0
			c.loss = 0.02 * float64(i%3)
		}
		v, end := c.run(t, rng)
		level := "none"
		if noise != "" {
			level = noise[len(noise)-3:]
		}
		if v.GreetingEnd.IsZero() {
			t.Errorf("%v: no greeting: %+v", c, v)
			continue
		}
		errs[level] = append(errs[level], v.GreetingEnd.Sub(v.Answered)-end)
		if e := v.GreetingEnd.Sub(v.Answered) - end; (e > 60*time.Millisecond || e < -60*time.Millisecond) && testing.Verbose() {
			t.Logf("%v: greeting end off by %v", c, e)
		}
		want := Abandoned
		if gap >= 0 && gap <= 2000 {
			want = Connected
		}
		ok := v.Outcome == want
		if gap >= 1800 && gap <= 2200 {
			inside++
			if ok {
				insideOK++
			} else if testing.Verbose() {
				t.Logf("%v: %s, want %s (greeting end %v, true %v, agent %v, true %v, gap %v)", c, v.Outcome, want,
					v.GreetingEnd.Sub(v.Answered), end, v.AgentSpeech.Sub(v.Answered), end+time.Duration(gap)*time.Millisecond, v.Gap)
			}
		} else {
			outside++
			if ok {
				outsideOK++
			} else {
				t.Errorf("%v: %s, want %s (greeting end %v, true %v, agent %v, gap %v)", c, v.Outcome, want,
					v.GreetingEnd.Sub(v.Answered), end, v.AgentSpeech.Sub(v.Answered), v.Gap)
			}
		}
	}
	for _, level := range []string{"none", "-50", "-40"} {
		limit := 60 * time.Millisecond
		if level == "-40" {
			limit = 150 * time.Millisecond
		}
		p := p95(errs[level])
		e := slices.Clone(errs[level])
		slices.Sort(e)
		t.Logf("signed errors: min %v p5 %v median %v p95 %v max %v", e[0], e[len(e)/20], e[len(e)/2], e[len(e)*19/20], e[len(e)-1])
		t.Logf("greeting end, noise %s dBov: p95 |error| %v over %d calls (target %v)", level, p, len(errs[level]), limit)
		if p > limit {
			t.Errorf("greeting end p95 error %v at noise %s dBov, want <= %v", p, level, limit)
		}
	}
	t.Logf("verdicts: %d/%d right for gaps outside 1.8-2.2 s, %d/%d inside", outsideOK, outside, insideOK, inside)
	if insideOK*100 < inside*95 {
		t.Errorf("verdicts inside 1.8-2.2 s: %d/%d right, want >= 95 %%", insideOK, inside)
	}
}

// TestNonSpeechIsNoAgent: noise, music and tones on the dialer leg after a
// greeting never read as a live agent (issue 13: 0 false "connected").
func TestNonSpeechIsNoAgent(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 3))
	noises := []string{"", "noise-white-50", "noise-pink-40"}
	var n, connected int
	for _, g := range greetings {
		for _, d := range nonSpeech {
			for i, noise := range noises {
				c := synthCall{greeting: g, lead: ms(300) + rng.IntN(ms(700)), dialer: d, gap: float64(rng.IntN(1500)), noise: noise, pcma: i%2 == 0}
				v, _ := c.run(t, rng)
				n++
				if v.Outcome != Abandoned || !v.AgentSpeech.IsZero() {
					connected++
					t.Errorf("%v: %s, agent speech at %v: want abandoned, no agent", c, v.Outcome, v.AgentSpeech.Sub(v.Answered))
				}
			}
		}
	}
	t.Logf("dialer leg with noise, music or tones only: %d of %d calls read as connected", connected, n)
}

// TestSafeHarborRecognized: each campaign's message, played after the
// greeting through G.711 with noise at any frame offset, is recognized
// (issue 13: >= 99 %); an agent's speech never is, nor another campaign's
// message.
func TestSafeHarborRecognized(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 4))
	fps := map[string]*fingerprint{}
	for _, m := range []string{"safeharbor-acme", "safeharbor-northwind"} {
		fp, err := newFingerprint(fixture(t, m))
		if err != nil {
			t.Fatal(err)
		}
		fps[m] = fp
	}
	noises := []string{"", "noise-white-50", "noise-pink-50", "noise-white-40", "noise-pink-40"}
	var plays, recognized, others, falseMatches int
	for i := range 400 {
		msg := []string{"safeharbor-acme", "safeharbor-northwind"}[i%2]
		c := synthCall{greeting: greetings[i%len(greetings)], lead: ms(300) + rng.IntN(ms(700)), dialer: msg, gap: 500 + float64(rng.IntN(3000)),
			noise: noises[i/2%len(noises)], pcma: i%3 == 0, fp: fps[msg]}
		c.dtx = c.noise == "" && i%4 == 1
		v, end := c.run(t, rng)
		plays++
		if v.Outcome == AbandonedSafeHarbor {
			recognized++
			if off := v.SafeHarbor.Sub(v.Answered) - end - time.Duration(c.gap)*time.Millisecond; off < -100*time.Millisecond || off > 100*time.Millisecond {
				t.Errorf("%v: message recognized %v from where it started", c, off)
			}
		} else {
			t.Errorf("%v: %s, want %s", c, v.Outcome, AbandonedSafeHarbor)
		}
		// the other campaign's message, and an agent, with this one registered
		for _, d := range []string{map[string]string{"safeharbor-acme": "safeharbor-northwind", "safeharbor-northwind": "safeharbor-acme"}[msg], agents[i%len(agents)]} {
			c.dialer = d
			v, _ := c.run(t, rng)
			others++
			if !v.SafeHarbor.IsZero() || v.Outcome == AbandonedSafeHarbor {
				falseMatches++
				t.Errorf("%v: %s's message recognized in %s", c, msg, d)
			}
		}
	}
	t.Logf("safe-harbor plays recognized: %d of %d; false matches: %d of %d plays of other speech", recognized, plays, falseMatches, others)
	if recognized*100 < plays*99 {
		t.Errorf("%d of %d plays recognized, want >= 99 %%", recognized, plays)
	}
}
