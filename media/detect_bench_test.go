package media

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// benchmarkTrack measures the analysis a packet of side's audio costs
// while detection runs: fixture, looped, through one track (the relay's
// per-packet path adds this to its own cost until the track is done).
func benchmarkTrack(b *testing.B, side Side, name string, withMessage bool) {
	rng := rand.New(rand.NewPCG(1, 1))
	var a audio
	a.loop(0, ms(25000), fixture(b, name)) // within analysisFrames: every packet analysed
	ps := sender{ssrc: 1}.packets(rng, a, a)
	fp, err := newFingerprint(fixture(b, "safeharbor-acme"))
	if err != nil {
		b.Fatal(err)
	}
	fresh := func() *track {
		tr := newTrack(side)
		if withMessage {
			tr.message = newMatcher(fp)
		}
		return tr
	}
	tr := fresh()
	const origin = 1
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(ps) {
			b.StopTimer()
			tr, i = fresh(), 0
			b.StartTimer()
		}
		p := &ps[i]
		tr.packet(&p.h, p.payload, origin+int64(p.at)*125000, origin)
		i++
	}
}

// Worst case: music on the dialer leg is never speech, so every loud frame
// has its pitch measured, and the campaign's message is looked for too.
func BenchmarkAnalyseDialerMusic(b *testing.B) { benchmarkTrack(b, Dialer, "music-melody", true) }
func BenchmarkAnalyseCalleeGreeting(b *testing.B) {
	benchmarkTrack(b, Carrier, "greeting-maria", false)
}

// BenchmarkRelayPacketAnalysed is BenchmarkRelayPacket on an answered call
// whose dialer sends speech: it shows the per-packet path with detection
// in it allocates nothing. Its time is not the analysis's: packets sent
// as fast as they go run ahead of the RTP clock, and the track passes over
// those whose place it analysed already; BenchmarkAnalyse* measure that.
func BenchmarkRelayPacketAnalysed(b *testing.B) {
	r := newRelay(b, 0)
	dialer, carrier := newEndpoint(b), newEndpoint(b)
	dPort, _ := call(b, r, "bench", dialer, carrier)
	r.Answered("bench", "", time.Now())
	var a audio
	a.loop(0, ms(20000), fixture(b, "agent-john"))
	var pkts [][]byte
	for _, p := range (sender{ssrc: 1}).packets(rand.New(rand.NewPCG(1, 1)), a, a) {
		raw, err := (&rtp.Packet{Header: p.h, Payload: p.payload}).Marshal()
		if err != nil {
			b.Fatal(err)
		}
		pkts = append(pkts, raw)
	}
	buf := make([]byte, 2048)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := dialer.rtp.WriteToUDPAddrPort(pkts[i%len(pkts)], dPort); err != nil {
			b.Fatal(err)
		}
		if _, _, err := carrier.rtp.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
