// Command media measures the media relay under load: it starts the relay
// (package media) in a child process, anchors -calls calls through it,
// answers them (so the relay's abandoned-call detection analyses their
// audio) and for -seconds sends real G.711 RTP (PCMU, 20 ms a packet, each
// way of every call: 100 packets a second a call). It reports the packets
// lost, the latency from the generator's send to the packet's arrival at
// its receiving socket (the kernel's receive timestamp, SO_TIMESTAMPNS: the
// relay plus both system calls and the loopback), and the CPU time of the
// relay process and of itself (utime+stime from /proc/PID/stat) as a share
// of the machine's cores and per packet.
//
//	go build -o /tmp/media-bench ./bench/media && /tmp/media-bench -calls 1000 -seconds 60
//
// The generator is cheap so that the relay, not it, is measured: the
// relay latches each leg to the source of its first packet, so the calls
// share a dialer-side and a carrier-side socket per sender goroutine, which
// sends with sendmmsg and, once a slot, reads what arrived with recvmmsg
// without blocking (see sender); a packet received is told apart by its
// SSRC, its send time kept by sequence number. Calls end after -call-life
// and are anchored and answered again, staggered, so that every call's
// detection runs through the whole measurement (it stops 30 s after a
// call's answer, or once the greeting and the agent were heard).
//
// The figures go to stdout (docs/benchmarks.md keeps them).
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-audio/wav"
	"github.com/pion/rtp"
	"github.com/zaf/g711"
	"golang.org/x/sys/unix"

	"github.com/gatekeeper-sip/gatekeeper/media"
)

const (
	packetInterval = 20 * time.Millisecond
	slots          = 20                    // a sender's calls are spread over the 20 ms in 1 ms slots
	payloadSize    = 160                   // 20 ms of PCMU
	bucket         = 10 * time.Microsecond // latency histogram resolution
	buckets        = 100_000               // up to 1 s
	sendTimes      = 256                   // send times kept per leg, by sequence number (5 s of packets)
	batch          = 64                    // packets a recvmmsg takes at most
	campaign       = "bench"
)

var loopback = netip.MustParseAddr("127.0.0.1")

func main() {
	calls := flag.Int("calls", 1000, "concurrent anchored calls")
	seconds := flag.Int("seconds", 60, "seconds of measured load (after 3 s of warm-up)")
	senders := flag.Int("senders", 2, "sender goroutines, each with a dialer-side and a carrier-side socket")
	life := flag.Duration("call-life", 25*time.Second, "how long a call lasts before it is released and a new one anchored in its place (0: calls last the whole run)")
	detect := flag.Bool("detect", true, "answer the calls, so that the relay's detection analyses their audio (false: media stays early media, not analysed)")
	testdata := flag.String("testdata", "media/testdata", "the directory of the audio fixtures")
	dialerAudio := flag.String("dialer-audio", "music-melody", "what the dialer sends, looped: a fixture of -testdata (music never reads as an agent's speech: detection runs all the call)")
	carrierAudio := flag.String("carrier-audio", "greeting-hello-us", "what the called person sends, looped with 3 s of silence after it")
	message := flag.String("message", "safeharbor-acme", "the campaign's safe-harbor message the relay looks for on the dialer leg (\"\": none)")
	low := flag.Int("port-low", 20000, "the relay's lowest port (below the ephemeral range the generator's sockets take)")
	direct := flag.Bool("direct", false, "send each leg's packets straight to the other leg's socket, not through the relay: the latency the generator itself accounts for")
	relay := flag.Bool("relay", false, "run as the relay, driven by the bench over stdin and stdout")
	profile := flag.String("cpuprofile", "", "write the relay process's CPU profile (go tool pprof) to this file")
	flag.Parse()
	if *relay {
		if err := serveRelay(*low, *calls, *testdata, *message, *profile); err != nil {
			fmt.Fprintln(os.Stderr, "relay:", err)
			os.Exit(1)
		}
		return
	}
	if *direct {
		*life, *detect = 0, false
	}
	b := &bench{calls: *calls, senders: *senders, life: *life, detect: *detect, direct: *direct, start: time.Now()}
	err := b.loadAudio(*testdata, *dialerAudio, *carrierAudio)
	if err == nil {
		err = b.run(*seconds, *low, *testdata, *message, *profile)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "media bench:", err)
		os.Exit(1)
	}
}

// serveRelay is the child: a relay anchoring, answering and releasing the
// calls its parent names on stdin, one command a line:
//
//	anchor ID DIALER_PORT CARRIER_PORT ANSWER -> the relay ports the dialer and the carrier send to
//	release ID                                -> the verdict's outcome, and whether a greeting was heard
//	stats                                     -> packets relayed, packets dropped
func serveRelay(low, calls int, testdata, message, profile string) error {
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	r, err := media.New(media.Config{Address: loopback, PortLow: low, PortHigh: low + 4*calls + 999,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer r.Close()
	if message != "" {
		f, err := os.Open(filepath.Join(testdata, message+".wav"))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := r.SafeHarbor(campaign, f); err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
	}
	in, out := bufio.NewScanner(os.Stdin), bufio.NewWriter(os.Stdout)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch f[0] {
		case "anchor":
			offer, err := r.Rewrite(f[1], media.Dialer, sdp(f[2]))
			if err != nil {
				return fmt.Errorf("the offer of %s: %w", f[1], err)
			}
			answer, err := r.Rewrite(f[1], media.Carrier, sdp(f[3]))
			if err != nil {
				return fmt.Errorf("the answer of %s: %w", f[1], err)
			}
			if f[4] == "1" {
				r.Answered(f[1], campaign, time.Now())
			}
			fmt.Fprintln(out, mediaPort(answer), mediaPort(offer))
		case "release":
			v := r.Release(f[1])
			fmt.Fprintln(out, v.Outcome, !v.GreetingEnd.IsZero())
		case "stats":
			s := r.Stats()
			fmt.Fprintln(out, s.Packets, s.Dropped)
		}
		out.Flush()
	}
	return nil
}

func sdp(port string) []byte {
	return []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio " + port + " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
}

func mediaPort(sdp []byte) string {
	_, rest, _ := strings.Cut(string(sdp), "m=audio ")
	port, _, _ := strings.Cut(rest, " ")
	return port
}

// call is one anchored call as the generator sees it. Its legs are
// 2*index (the dialer's) and 2*index+1 (the carrier's); a leg's SSRC is
// its number plus one.
type call struct {
	index int
	gen   int // calls anchored in this place before: the Call-ID's suffix
	// to[side] is the port on 127.0.0.1 that side sends to: the relay's.
	to   [2]atomic.Int32
	live atomic.Bool // sending; false while the call is replaced
	// seq is the next sequence number, owned by the sender; it runs on
	// from one call in this place to the next (the SSRC stays too).
	seq uint16
}

func (c *call) id() string { return fmt.Sprintf("call-%d-%d", c.index, c.gen) }

// sender is a goroutine sending for a share of the calls, from a
// dialer-side and a carrier-side socket that receive what the relay
// passes to those sides.
//
// Its sockets are plain file descriptors in no epoll set (so not in Go's
// network poller), read without blocking once a slot, after the slot's
// packets went out. On loopback the relay's sendto runs the delivery to
// the receiving socket, so a reader waiting on it (in a read, or in
// epoll_wait as Go's poller does) is woken from the relay's sendto and
// then competes with the relay for the machine's two cores: with such
// readers the relay's workers fell milliseconds behind (docs/benchmarks.md,
// "Media relay"). A phone or a carrier on another machine is woken on
// that machine, not the relay's. The late read changes neither the
// latency, timed to the kernel's receive timestamp (taken as loopback
// takes the packet in, within the relay's sendto), nor the loss: the
// socket's receive buffer holds far more than the packets of a slot, and
// a datagram it had no room for would show in RcvbufErrors.
type sender struct {
	mu    sync.Mutex // held while a slot is sent: a call made not live is not sent to after
	fds   [2]int
	ports [2]int
	slots [slots][]*call
	in    [2]*receiver
	// sentAs[side] names the datagrams sent on that socket with a send
	// timestamp by the count the kernel gives those (SOF_TIMESTAMPING_OPT_ID,
	// from 0), modulo its length: leg<<16 | sequence number. stamped counts
	// them.
	sentAs  [2][]uint64
	stamped [2]uint32
}

// stampedCalls: the packets of one call in stampedCalls ask for a send
// timestamp; reading one back from the error queue costs the generator
// about as much as receiving a packet (its CPU rose from 24 % to 30 % of
// the cores when every packet asked), load the relay would share.
const stampedCalls = 8

// askStamp is the control message that asks the kernel for a packet's
// send timestamp (SO_TIMESTAMPING with SOF_TIMESTAMPING_TX_SOFTWARE in
// sendmsg's control data, socket(7)).
var askStamp = func() []byte {
	b := make([]byte, unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SO_TIMESTAMPING
	h.SetLen(unix.CmsgLen(4))
	*(*uint32)(unsafe.Pointer(&b[unix.CmsgLen(0)])) = unix.SOF_TIMESTAMPING_TX_SOFTWARE
	return b
}()

// sentRing is the length of sender.sentAs: far more datagrams than a
// socket sends between two reads of its send timestamps (a slot's).
const sentRing = 1 << 14

// drain reads the send timestamps of both sockets, then what they received.
func (s *sender) drain(b *bench) error {
	for side, in := range s.in {
		if err := in.drainSent(b, s.sentAs[side]); err != nil {
			return err
		}
	}
	for _, in := range s.in {
		if err := in.drain(b); err != nil {
			return err
		}
	}
	return nil
}

type bench struct {
	calls, senders int
	life           time.Duration
	detect, direct bool
	start          time.Time
	audio          [2][]byte // PCMU the dialer's and the carrier's legs loop

	measuring atomic.Bool
	// Per leg: the packets sent and received (the drain before a call is
	// released), and the send times by sequence number, as ns since start
	// shifted left once, the low bit set when sent while measuring.
	sent, received []atomic.Uint64
	sendTime       [][sendTimes]atomic.Int64
	// handedTime is, by the same index, when the kernel handed the packet
	// to the relay's socket (its send timestamp, taken as loopback takes
	// it in): ns since start, with the sequence number in the top 16 bits
	// (0 when not yet read).
	handedTime [][sendTimes]atomic.Uint64
	// Sent and received while measuring, and the latency histograms.
	sentMeasured, receivedMeasured atomic.Uint64
	// From the clock read before the slot's sendmmsg to the packet's
	// arrival at the generator's socket (kernel receive timestamp).
	arrived [buckets]atomic.Uint64
	// From the packet's hand-over to the relay's socket to the relayed
	// packet's arrival (both kernel timestamps): the relay's time alone,
	// for the packets that asked for a send timestamp (one call in
	// stampedCalls), counted in handed.
	through [buckets]atomic.Uint64
	handed  atomic.Uint64

	// The relay child's stdin and stdout; one goroutine at a time.
	toRelay   io.Writer
	fromRelay *bufio.Scanner
	verdicts  map[string]int
}

// now is the wall clock in ns since the start: the kernel's receive
// timestamps are of that clock (CLOCK_REALTIME).
func (b *bench) now() int64 { return time.Now().UnixNano() - b.start.UnixNano() }

// loadAudio reads the two fixtures and encodes them to PCMU, whole packets
// of them.
func (b *bench) loadAudio(dir, dialer, carrier string) error {
	for side, name := range []string{dialer, carrier} {
		f, err := os.Open(filepath.Join(dir, name+".wav"))
		if err != nil {
			return err
		}
		pcm, err := wav.NewDecoder(f).FullPCMBuffer()
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
		if pcm.Format.SampleRate != 8000 || pcm.Format.NumChannels != 1 || pcm.SourceBitDepth != 16 {
			return fmt.Errorf("%s: want 8 kHz, mono, 16-bit PCM", f.Name())
		}
		samples := pcm.Data
		if media.Side(side) == media.Carrier {
			samples = append(samples, make([]int, 3*8000)...) // "Hello? ... Hello?"
		}
		samples = samples[:len(samples)/payloadSize*payloadSize]
		if len(samples) == 0 {
			return fmt.Errorf("%s: shorter than a packet", f.Name())
		}
		for _, v := range samples {
			b.audio[side] = append(b.audio[side], g711.EncodeUlawFrame(int16(v)))
		}
	}
	return nil
}

func (b *bench) run(seconds, low int, testdata, message, profile string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "-relay", "-calls", strconv.Itoa(b.calls), "-port-low", strconv.Itoa(low),
		"-testdata", testdata, "-message", message, "-cpuprofile", profile)
	child.Stderr = os.Stderr
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { stdin.Close(); child.Wait() }()
	b.toRelay, b.fromRelay, b.verdicts = stdin, bufio.NewScanner(stdout), map[string]int{}

	b.sent = make([]atomic.Uint64, 2*b.calls)
	b.received = make([]atomic.Uint64, 2*b.calls)
	b.sendTime = make([][sendTimes]atomic.Int64, 2*b.calls)
	b.handedTime = make([][sendTimes]atomic.Uint64, 2*b.calls)
	senders := make([]*sender, b.senders)
	for i := range senders {
		s := &sender{}
		for side := range s.fds {
			fd, port, err := openSocket()
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			s.fds[side], s.ports[side], s.in[side] = fd, port, newReceiver(fd)
			s.sentAs[side] = make([]uint64, sentRing)
		}
		senders[i] = s
	}
	calls := make([]*call, b.calls)
	for i := range calls {
		c := &call{index: i}
		s := senders[i%b.senders]
		s.slots[i/b.senders%slots] = append(s.slots[i/b.senders%slots], c)
		if err := b.anchor(c, s); err != nil {
			return err
		}
		calls[i] = c
	}

	stop := make(chan struct{})
	var sending sync.WaitGroup
	failed := make(chan error, len(senders))
	for i, s := range senders {
		sending.Go(func() {
			if err := b.send(s, time.Duration(i)*packetInterval/slots/time.Duration(b.senders), stop); err != nil {
				failed <- err
			}
		})
	}
	replacing := make(chan error, 1)
	if b.life > 0 {
		go func() { replacing <- b.replace(calls, senders, stop) }()
	} else {
		close(replacing)
	}

	time.Sleep(3 * time.Second) // warm-up: every leg latched
	cpu0, err := cpuTime(child.Process.Pid)
	if err != nil {
		return err
	}
	own0, _ := cpuTime(os.Getpid())
	load0, _ := os.ReadFile("/proc/loadavg")
	overflow0 := rcvbufErrors()
	b.measuring.Store(true)
	began := time.Now()
	time.Sleep(time.Duration(seconds) * time.Second)
	b.measuring.Store(false)
	elapsed := time.Since(began)
	cpu1, _ := cpuTime(child.Process.Pid)
	own1, _ := cpuTime(os.Getpid())
	load1, _ := os.ReadFile("/proc/loadavg")
	close(stop)
	sending.Wait()
	close(failed)
	if err := <-failed; err != nil {
		return err
	}
	if err := <-replacing; err != nil {
		return err
	}
	// the last packets arrive (on a loaded machine, seconds late)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && b.receivedMeasured.Load() < b.sentMeasured.Load(); {
		time.Sleep(time.Millisecond)
		for _, s := range senders {
			if err := s.drain(b); err != nil {
				return err
			}
		}
	}
	relayed, dropped, err := b.stats()
	if err != nil {
		return err
	}
	overflow := rcvbufErrors() - overflow0

	cores := float64(runtime.NumCPU())
	sent, received := b.sentMeasured.Load(), b.receivedMeasured.Load()
	relayCPU, ownCPU := (cpu1 - cpu0).Seconds(), (own1 - own0).Seconds()
	how := fmt.Sprintf("detection %v, a call replaced every %v", b.detect, b.life/time.Duration(b.calls))
	switch {
	case b.direct:
		how = "straight from leg to leg, not through the relay"
	case b.life == 0:
		how = fmt.Sprintf("detection %v, calls kept", b.detect)
	}
	fmt.Printf("calls %d (%s), %.1f s measured\n", b.calls, how, elapsed.Seconds())
	fmt.Printf("packets/s %.0f sent, %.0f received\n", float64(sent)/elapsed.Seconds(), float64(received)/elapsed.Seconds())
	fmt.Printf("sent %d, received %d, lost %d (the relay in all: %d relayed, %d dropped)\n", sent, received, int64(sent)-int64(received), relayed, dropped)
	fmt.Printf("UDP datagrams the kernel dropped for a full receive buffer, any socket of the machine: %d\n", overflow)
	fmt.Printf("relay CPU %.2f s: %.1f %% of %.0f cores, %.2f µs a packet\n", relayCPU, 100*relayCPU/elapsed.Seconds()/cores, cores, 1e6*relayCPU/float64(received))
	fmt.Printf("generator CPU %.2f s: %.1f %% of %.0f cores, %.2f µs a packet (sent and received)\n", ownCPU, 100*ownCPU/elapsed.Seconds()/cores, cores, 1e6*ownCPU/float64(received))
	fmt.Printf("latency send->arrival (kernel timestamp) p50 %v, p99 %v, p99.9 %v, max %v\n",
		quantile(&b.arrived, received, 0.5), quantile(&b.arrived, received, 0.99), quantile(&b.arrived, received, 0.999), quantile(&b.arrived, received, 1))
	handed := b.handed.Load()
	fmt.Printf("latency through the relay, hand-over->arrival (kernel timestamps, %d packets) p50 %v, p99 %v, p99.9 %v, max %v\n", handed,
		quantile(&b.through, handed, 0.5), quantile(&b.through, handed, 0.99), quantile(&b.through, handed, 0.999), quantile(&b.through, handed, 1))
	fmt.Printf("verdicts of the calls replaced: %v\n", b.verdictCounts())
	fmt.Printf("load average before: %safter: %s", load0, load1)
	if sent != received {
		return errors.New("packets were lost")
	}
	return nil
}

// ask sends the relay child a command and returns its answer's fields.
func (b *bench) ask(format string, args ...any) ([]string, error) {
	if _, err := fmt.Fprintf(b.toRelay, format+"\n", args...); err != nil {
		return nil, err
	}
	if !b.fromRelay.Scan() {
		return nil, fmt.Errorf("the relay did not answer %q", fmt.Sprintf(format, args...))
	}
	return strings.Fields(b.fromRelay.Text()), nil
}

// anchor has the relay anchor the call between s's sockets (and answer it
// with -detect), and makes the call live.
func (b *bench) anchor(c *call, s *sender) error {
	if b.direct {
		for side := range c.to {
			c.to[side].Store(int32(s.ports[1-side]))
		}
		c.live.Store(true)
		return nil
	}
	answer := 0
	if b.detect {
		answer = 1
	}
	f, err := b.ask("anchor %s %d %d %d", c.id(), s.ports[media.Dialer], s.ports[media.Carrier], answer)
	if err != nil {
		return err
	}
	for side, p := range f {
		port, _ := strconv.Atoi(p)
		c.to[side].Store(int32(port))
	}
	c.live.Store(true)
	return nil
}

// replace ends the calls in turn, one every life/calls, and anchors a new
// one in each place: a call stops sending, what it sent is received (or
// 2 s pass), the relay releases it, and the next call starts.
func (b *bench) replace(calls []*call, senders []*sender, stop chan struct{}) error {
	tick := time.NewTicker(b.life / time.Duration(len(calls)))
	defer tick.Stop()
	for i := 0; ; i = (i + 1) % len(calls) {
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
		c, s := calls[i], senders[i%b.senders]
		s.mu.Lock()
		c.live.Store(false)
		s.mu.Unlock()
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if b.sent[2*i].Load() == b.received[2*i].Load() && b.sent[2*i+1].Load() == b.received[2*i+1].Load() {
				break
			}
		}
		f, err := b.ask("release %s", c.id())
		if err != nil {
			return err
		}
		if f[1] == "true" {
			b.verdicts[f[0]+", greeting heard"]++
		} else {
			b.verdicts[f[0]+", no greeting"]++
		}
		c.gen++
		if err := b.anchor(c, s); err != nil {
			return err
		}
	}
}

func (b *bench) stats() (relayed, dropped uint64, err error) {
	f, err := b.ask("stats")
	if err != nil {
		return 0, 0, err
	}
	relayed, _ = strconv.ParseUint(f[0], 10, 64)
	dropped, _ = strconv.ParseUint(f[1], 10, 64)
	return relayed, dropped, nil
}

func (b *bench) verdictCounts() string {
	var out []string
	for v, n := range b.verdicts {
		out = append(out, fmt.Sprintf("%d %s", n, v))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// send sends a packet each way of each of s's live calls every 20 ms, the
// calls of a slot together, one sendmmsg a socket, the first slot at
// offset; after each slot it reads what its sockets received. It returns
// at stop, or with the first error of a send or a read.
func (b *bench) send(s *sender, offset time.Duration, stop chan struct{}) error {
	n := 0
	for _, calls := range s.slots {
		n = max(n, len(calls))
	}
	var out [2]*batchOf
	for side := range out {
		out[side] = newBatch(n, 12+payloadSize)
	}
	next := time.Now().Add(offset)
	for slot := 0; ; slot = (slot + 1) % slots {
		time.Sleep(time.Until(next))
		next = next.Add(packetInterval / slots)
		select {
		case <-stop:
			return nil
		default:
		}
		s.mu.Lock()
		stamp := b.now() << 1 // the send time of the slot's packets
		if b.measuring.Load() {
			stamp |= 1
		}
		for side, m := range out {
			n := 0
			for _, c := range s.slots[slot] {
				if !c.live.Load() {
					continue
				}
				leg := 2*c.index + side
				h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: c.seq,
					Timestamp: payloadSize * uint32(c.seq), SSRC: uint32(leg + 1)}
				h.MarshalTo(m.bufs[n])
				audio := b.audio[side]
				at := int(c.seq) * payloadSize % len(audio)
				copy(m.bufs[n][12:], audio[at:at+payloadSize])
				m.to(n, int(c.to[side].Load()))
				m.hdrs[n].Hdr.Control, m.hdrs[n].Hdr.Controllen = nil, 0
				if c.index%stampedCalls == 0 {
					m.hdrs[n].Hdr.Control = &askStamp[0]
					m.hdrs[n].Hdr.SetControllen(len(askStamp))
					s.sentAs[side][s.stamped[side]%sentRing] = uint64(leg)<<16 | uint64(c.seq)
					s.stamped[side]++
				}
				b.sendTime[leg][c.seq%sendTimes].Store(stamp)
				b.sent[leg].Add(1)
				n++
			}
			if err := m.send(s.fds[side], n); err != nil {
				s.mu.Unlock()
				return fmt.Errorf("sending: %w", err)
			}
			if stamp&1 == 1 {
				b.sentMeasured.Add(uint64(n))
			}
		}
		for _, c := range s.slots[slot] {
			if c.live.Load() {
				c.seq++
			}
		}
		s.mu.Unlock()
		if err := s.drain(b); err != nil {
			return err
		}
	}
}

// openSocket opens a blocking UDP socket on 127.0.0.1, a port of the
// kernel's choosing, with 4 MB buffers, receive timestamps (SO_TIMESTAMPNS,
// socket(7)) and, for the packets that ask (askStamp), send timestamps
// numbered from 0 on its error queue (SO_TIMESTAMPING, the kernel's
// Documentation/networking/timestamping.rst; on loopback the send
// timestamp is taken as the packet is handed to the receiving socket); it
// is in no epoll set.
func openSocket() (fd, port int, err error) {
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, err
	}
	const sendStamps = unix.SOF_TIMESTAMPING_SOFTWARE | unix.SOF_TIMESTAMPING_OPT_ID | unix.SOF_TIMESTAMPING_OPT_TSONLY
	for _, opt := range [][2]int{{unix.SO_RCVBUF, 4 << 20}, {unix.SO_SNDBUF, 4 << 20}, {unix.SO_TIMESTAMPNS, 1}, {unix.SO_TIMESTAMPING, sendStamps}} {
		if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt[0], opt[1]); err != nil {
			break
		}
	}
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrInet4{Addr: loopback.As4()})
	}
	var sa unix.Sockaddr
	if err == nil {
		sa, err = unix.Getsockname(fd)
	}
	if err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	return fd, sa.(*unix.SockaddrInet4).Port, nil
}

// batchOf is the buffers, addresses and headers of one sendmmsg or
// recvmmsg, made once: sending and receiving allocate nothing.
type batchOf struct {
	bufs  [][]byte
	oobs  [][]byte // receive only: the control messages (the timestamp)
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet4
	hdrs  []unix.Mmsghdr
}

func newBatch(n, size int) *batchOf {
	m := &batchOf{bufs: make([][]byte, n), oobs: make([][]byte, n), iovs: make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet4, n), hdrs: make([]unix.Mmsghdr, n)}
	for i := range n {
		m.bufs[i], m.oobs[i] = make([]byte, size), make([]byte, 256)
		m.iovs[i].Base = &m.bufs[i][0]
		m.iovs[i].SetLen(size)
		h := &m.hdrs[i].Hdr
		h.Name, h.Namelen = (*byte)(unsafe.Pointer(&m.names[i])), unix.SizeofSockaddrInet4
		h.Iov, h.Iovlen = &m.iovs[i], 1
	}
	return m
}

// to addresses message i to port on 127.0.0.1.
func (m *batchOf) to(i, port int) {
	m.names[i] = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: loopback.As4()}
	p := (*[2]byte)(unsafe.Pointer(&m.names[i].Port))
	p[0], p[1] = byte(port>>8), byte(port)
}

// send sends the first n messages on fd, sendmmsg by sendmmsg.
func (m *batchOf) send(fd, n int) error {
	for done := 0; done < n; {
		k, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&m.hdrs[done])), uintptr(n-done), 0, 0, 0)
		if errno != 0 {
			return errno
		}
		done += int(k)
	}
	return nil
}

// receiver reads what the relay passes to one of the generator's sockets.
type receiver struct {
	fd     int
	m      *batchOf
	stamps *batchOf // the error queue's: send timestamps
}

func newReceiver(fd int) *receiver {
	return &receiver{fd: fd, m: newBatch(batch, 2048), stamps: newBatch(batch, 1)}
}

// recvmmsg reads up to a batch from fd into m without blocking (flags:
// 0, or MSG_ERRQUEUE); 0 when there is nothing to read.
func (m *batchOf) recvmmsg(fd, flags int) (int, error) {
	for i := range m.hdrs {
		h := &m.hdrs[i].Hdr
		h.Namelen = unix.SizeofSockaddrInet4
		h.Control = &m.oobs[i][0]
		h.SetControllen(len(m.oobs[i]))
	}
	k, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&m.hdrs[0])), uintptr(len(m.hdrs)), uintptr(flags|unix.MSG_DONTWAIT), 0, 0)
	switch errno {
	case 0:
		return int(k), nil
	case unix.EAGAIN:
		return 0, nil
	}
	return 0, errno
}

// drainSent reads the socket's send timestamps until there are none and
// keeps each as its packet's handedTime; sentAs names the packets.
func (r *receiver) drainSent(b *bench, sentAs []uint64) error {
	start := b.start.UnixNano()
	for {
		k, err := r.stamps.recvmmsg(r.fd, unix.MSG_ERRQUEUE)
		if err != nil || k == 0 {
			return err
		}
		for i := range k {
			id, at, ok := sendTimestamp(r.stamps.oobs[i][:r.stamps.hdrs[i].Hdr.Controllen])
			if !ok {
				return errors.New("the error queue held something else than a send timestamp")
			}
			named := sentAs[id%sentRing]
			leg, seq := named>>16, named&0xffff
			b.handedTime[leg][seq%sendTimes].Store(seq<<48 | uint64(at-start))
		}
	}
}

// drain reads the socket until it is empty, recvmmsg by recvmmsg, without
// blocking, and counts each packet and its latency by the leg it came
// from (its SSRC) and its sequence number. A failed read, or a packet
// without its receive timestamp, is an error: counted as lost, it would
// be taken for the relay's loss.
func (r *receiver) drain(b *bench) error {
	start := b.start.UnixNano()
	for {
		k, err := r.m.recvmmsg(r.fd, 0)
		if err != nil || k == 0 {
			if err != nil {
				err = fmt.Errorf("receiving: %w", err)
			}
			return err
		}
		for i := range k {
			p := r.m.bufs[i][:r.m.hdrs[i].Len]
			if len(p) < 12 {
				continue
			}
			leg := int(binary.BigEndian.Uint32(p[8:12])) - 1
			if leg < 0 || leg >= len(b.received) {
				continue
			}
			b.received[leg].Add(1)
			seq := binary.BigEndian.Uint16(p[2:4])
			sent := b.sendTime[leg][seq%sendTimes].Load()
			if sent&1 == 0 {
				continue
			}
			at, ok := kernelTimestamp(r.m.oobs[i][:r.m.hdrs[i].Hdr.Controllen])
			if !ok {
				return errors.New("a packet came without its receive timestamp")
			}
			at -= start
			b.receivedMeasured.Add(1)
			b.arrived[min(int((at-sent>>1)/int64(bucket)), buckets-1)].Add(1)
			if h := b.handedTime[leg][seq%sendTimes].Load(); h>>48 == uint64(seq) && h != 0 {
				b.handed.Add(1)
				b.through[min(int((at-int64(h&(1<<48-1)))/int64(bucket)), buckets-1)].Add(1)
			}
		}
	}
}

// quantile is the latency below which q of the total packets of hist
// arrived, to the bucket's upper edge.
func quantile(hist *[buckets]atomic.Uint64, total uint64, q float64) time.Duration {
	var seen uint64
	for i := range hist {
		seen += hist[i].Load()
		if total > 0 && float64(seen) >= q*float64(total) {
			return time.Duration(i+1) * bucket
		}
	}
	return buckets * bucket
}

// sendTimestamp is the count (SOF_TIMESTAMPING_OPT_ID) and the software
// send time, ns of CLOCK_REALTIME, of an entry of a socket's error queue
// (struct scm_timestamping and struct sock_extended_err, read in place).
func sendTimestamp(oob []byte) (id uint32, at int64, ok bool) {
	var stamped, counted bool
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Len < unix.SizeofCmsghdr || int(h.Len) > len(oob) {
			return 0, 0, false
		}
		data := oob[unix.SizeofCmsghdr:h.Len]
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPING && len(data) >= 16:
			at, stamped = (*unix.Timespec)(unsafe.Pointer(&data[0])).Nano(), true
		case h.Level == unix.SOL_IP && h.Type == unix.IP_RECVERR && len(data) >= int(unsafe.Sizeof(unix.SockExtendedErr{})):
			e := (*unix.SockExtendedErr)(unsafe.Pointer(&data[0]))
			id, counted = e.Data, e.Origin == unix.SO_EE_ORIGIN_TIMESTAMPING
		}
		oob = oob[min(len(oob), unix.CmsgSpace(int(h.Len)-unix.SizeofCmsghdr)):]
	}
	return id, at, stamped && counted
}

// kernelTimestamp is the SCM_TIMESTAMPNS arrival time, ns of CLOCK_REALTIME,
// in a datagram's control messages (read in place: the generator must not
// allocate per packet).
func kernelTimestamp(oob []byte) (int64, bool) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Len < unix.SizeofCmsghdr || int(h.Len) > len(oob) {
			return 0, false
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && int(h.Len) >= unix.SizeofCmsghdr+16 {
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[unix.SizeofCmsghdr]))
			return ts.Nano(), true
		}
		oob = oob[min(len(oob), unix.CmsgSpace(int(h.Len)-unix.SizeofCmsghdr)):]
	}
	return 0, false
}

// rcvbufErrors is the machine's count of UDP datagrams dropped for a full
// socket receive buffer (RcvbufErrors in /proc/net/snmp), -1 if unknown.
func rcvbufErrors() int64 {
	snmp, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return -1
	}
	var names []string
	for line := range strings.Lines(string(snmp)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, name := range names {
			if name == "RcvbufErrors" && i < len(f) {
				n, _ := strconv.ParseInt(f[i], 10, 64)
				return n
			}
		}
	}
	return -1
}

// cpuTime is a process's utime+stime (/proc/PID/stat, in clock ticks of 10 ms).
func cpuTime(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
