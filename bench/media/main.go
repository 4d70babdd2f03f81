// Command media measures the media relay under load: it starts the relay
// (package media) in a child process, anchors -calls calls through it, and
// for -seconds sends G.711 RTP at 20 ms each way of every call (100 packets
// a second a call) from loopback sockets, then reports the packets lost,
// the latency the relay added as the receiving socket saw it (send to
// receive, generator and sink scheduling included, so an upper bound), and
// the relay process's CPU time (utime+stime from /proc/PID/stat) as a share
// of the machine's cores.
//
//	go run ./bench/media -calls 1000 -seconds 60
//
// The figures go to stdout (docs/benchmarks.md keeps them).
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/gatekeeper-sip/gatekeeper/media"
)

const (
	packetInterval = 20 * time.Millisecond
	bucket         = 10 * time.Microsecond // latency histogram resolution
	buckets        = 10_000                // up to 100 ms
)

var loopback = netip.MustParseAddr("127.0.0.1")

func main() {
	calls := flag.Int("calls", 1000, "concurrent anchored calls")
	seconds := flag.Int("seconds", 60, "seconds of measured load (after 2 s of warm-up)")
	senders := flag.Int("senders", 4, "goroutines sending the packets")
	low := flag.Int("port-low", 20000, "the relay's lowest port (below the ephemeral range the generator's sockets take)")
	relay := flag.Bool("relay", false, "run as the relay: read 'ID DIALER_PORT CARRIER_PORT' lines, answer the relay's two ports")
	flag.Parse()
	if *relay {
		serveRelay(*low, *calls)
		return
	}
	if err := run(*calls, *seconds, *senders, *low); err != nil {
		fmt.Fprintln(os.Stderr, "media bench:", err)
		os.Exit(1)
	}
}

// serveRelay is the child: a relay with four ports a call, anchoring calls
// its parent names on stdin.
func serveRelay(low, calls int) {
	r, err := media.New(media.Config{Address: loopback, PortLow: low, PortHigh: low + 4*calls + 999,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer r.Close()
	in, out := bufio.NewScanner(os.Stdin), bufio.NewWriter(os.Stdout)
	for in.Scan() {
		f := strings.Fields(in.Text())
		offer, err1 := r.Rewrite(f[0], media.Dialer, sdp(f[1]))
		answer, err2 := r.Rewrite(f[0], media.Carrier, sdp(f[2]))
		if err1 != nil || err2 != nil {
			fmt.Fprintln(os.Stderr, "anchoring:", err1, err2)
			os.Exit(1)
		}
		fmt.Fprintln(out, mediaPort(answer), mediaPort(offer))
		out.Flush()
	}
}

func sdp(port string) []byte {
	return []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio " + port + " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
}

func mediaPort(sdp []byte) string {
	_, rest, _ := strings.Cut(string(sdp), "m=audio ")
	port, _, _ := strings.Cut(rest, " ")
	return port
}

// leg is one side's phone in a call: its socket and the relay's port it sends to.
type leg struct {
	conn *net.UDPConn
	to   netip.AddrPort
	ssrc uint32
}

type results struct {
	received atomic.Uint64
	hist     [buckets]atomic.Uint64
}

func run(calls, seconds, senders, low int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "-relay", "-calls", strconv.Itoa(calls), "-port-low", strconv.Itoa(low))
	child.Stderr = os.Stderr
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { stdin.Close(); child.Wait() }()
	answers := bufio.NewScanner(stdout)

	legs := make([]*leg, 0, 2*calls)
	for i := range calls {
		var pair [2]*leg
		for j := range pair {
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
			if err != nil {
				return err
			}
			c.SetReadBuffer(1 << 20)
			pair[j] = &leg{conn: c, ssrc: uint32(2*i + j + 1)}
		}
		fmt.Fprintf(stdin, "call-%d %d %d\n", i, pair[0].conn.LocalAddr().(*net.UDPAddr).Port, pair[1].conn.LocalAddr().(*net.UDPAddr).Port)
		if !answers.Scan() {
			return fmt.Errorf("the relay did not anchor call %d", i)
		}
		f := strings.Fields(answers.Text())
		for j, p := range f {
			port, _ := strconv.Atoi(p)
			pair[j].to = netip.AddrPortFrom(loopback, uint16(port))
		}
		legs = append(legs, pair[0], pair[1])
	}

	start := time.Now()
	var res results
	measuring := atomic.Bool{}
	var wg sync.WaitGroup
	for _, l := range legs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			receive(l.conn, start, &res, &measuring)
		}()
	}

	var sent atomic.Uint64
	stop := make(chan struct{})
	var sending sync.WaitGroup
	for s := range senders {
		sending.Add(1)
		go func() {
			defer sending.Done()
			send(legs[s*len(legs)/senders:(s+1)*len(legs)/senders], start, time.Duration(s)*packetInterval/time.Duration(senders), stop, &sent, &measuring)
		}()
	}

	time.Sleep(2 * time.Second) // warm-up: every leg latched
	cpu0, err := cpuTime(child.Process.Pid)
	if err != nil {
		return err
	}
	own0 := ownCPU()
	measuring.Store(true)
	began := time.Now()
	time.Sleep(time.Duration(seconds) * time.Second)
	measuring.Store(false)
	elapsed := time.Since(began)
	cpu1, _ := cpuTime(child.Process.Pid)
	own1 := ownCPU()
	close(stop)
	sending.Wait()
	time.Sleep(500 * time.Millisecond) // the last packets arrive
	for _, l := range legs {
		l.conn.Close()
	}
	wg.Wait()

	cores := runtime.NumCPU()
	relayCPU := (cpu1 - cpu0).Seconds()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("calls %d, %d packets/s through the relay, %.1f s measured\n", calls, calls*2*int(time.Second/packetInterval), elapsed.Seconds())
	fmt.Printf("sent %d, received %d, lost %d\n", sent.Load(), res.received.Load(), int64(sent.Load())-int64(res.received.Load()))
	fmt.Printf("relay CPU %.1f s: %.1f %% of %d cores, %.2f µs a packet\n", relayCPU, 100*relayCPU/elapsed.Seconds()/float64(cores), cores, 1e6*relayCPU/float64(res.received.Load()))
	fmt.Printf("generator and sink CPU %.1f s: %.1f %% of %d cores\n", (own1 - own0).Seconds(), 100*(own1-own0).Seconds()/elapsed.Seconds()/float64(cores), cores)
	fmt.Printf("latency send->receive p50 %v, p99 %v, p99.9 %v, max %v\n", res.quantile(0.5), res.quantile(0.99), res.quantile(0.999), res.quantile(1))
	fmt.Printf("load average before/after: %s", load)
	if int64(sent.Load())-int64(res.received.Load()) != 0 {
		return fmt.Errorf("packets were lost")
	}
	return nil
}

// send sends one packet on each leg every 20 ms, the first at offset,
// counting those sent while measuring; it allocates nothing per packet.
func send(legs []*leg, start time.Time, offset time.Duration, stop chan struct{}, sent *atomic.Uint64, measuring *atomic.Bool) {
	buf := make([]byte, 12+160)
	next := time.Now().Add(offset)
	for seq := uint16(0); ; seq++ {
		time.Sleep(time.Until(next))
		select {
		case <-stop:
			return
		default:
		}
		counting := measuring.Load()
		for _, l := range legs {
			h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: 160 * uint32(seq), SSRC: l.ssrc}
			h.MarshalTo(buf)
			binary.BigEndian.PutUint64(buf[12:], uint64(time.Since(start)))
			buf[20] = 0
			if counting {
				buf[20] = 1
			}
			if _, err := l.conn.WriteToUDPAddrPort(buf, l.to); err == nil && counting {
				sent.Add(1)
			}
		}
		next = next.Add(packetInterval)
	}
}

// receive reads what the relay passes to a leg until its socket closes,
// counting the packets sent while measuring and their latency.
func receive(c *net.UDPConn, start time.Time, res *results, measuring *atomic.Bool) {
	buf := make([]byte, 2048)
	for {
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if n < 21 || buf[20] != 1 {
			continue
		}
		res.received.Add(1)
		d := time.Since(start) - time.Duration(binary.BigEndian.Uint64(buf[12:]))
		res.hist[min(int(d/bucket), buckets-1)].Add(1)
	}
}

// quantile is the latency below which q of the packets arrived, to the bucket's upper edge.
func (r *results) quantile(q float64) time.Duration {
	total := r.received.Load()
	var seen uint64
	for i := range r.hist {
		seen += r.hist[i].Load()
		if total > 0 && float64(seen) >= q*float64(total) {
			return time.Duration(i+1) * bucket
		}
	}
	return buckets * bucket
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

func ownCPU() time.Duration {
	d, _ := cpuTime(os.Getpid())
	return d
}
