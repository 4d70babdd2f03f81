package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// tortureMessages reads RFC 4475's messages as shipped in sipgo's module:
// kind ("valid" or "invalid") -> name -> bytes.
func tortureMessages(t *testing.T) map[string]map[string][]byte {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/emiago/sipgo")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("locating sipgo's module: %v", err)
	}
	all := map[string]map[string][]byte{}
	for _, kind := range []string{"valid", "invalid"} {
		files, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "sip", "testdata", "torture", kind, "*.dat"))
		if len(files) == 0 {
			t.Fatalf("no %s torture messages found", kind)
		}
		all[kind] = map[string][]byte{}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all[kind][strings.TrimSuffix(filepath.Base(f), ".dat")] = data
		}
	}
	return all
}

// sendEach sends every message from its own socket on the dialer's address
// over network and returns the start lines of what came back to that socket
// within wait. (Over UDP the gatekeeper answers a transaction at the top
// Via's port; its stateless 400s come back to the source port, as all
// answers do over TCP.)
func (g *gatekeeper) sendEach(network string, msgs map[string][]byte, wait time.Duration) map[string][]string {
	g.t.Helper()
	var mu sync.Mutex
	answers := map[string][]string{}
	var wg sync.WaitGroup
	deadline := time.Now().Add(wait)
	to := net.JoinHostPort(carrierIP, fmt.Sprint(g.port))
	for name, data := range msgs {
		d := net.Dialer{LocalAddr: localAddr(network, dialerIP)}
		conn, err := d.Dial(network, to)
		if err != nil {
			g.t.Fatalf("%s %s: %v", network, name, err)
		}
		if _, err := conn.Write(data); err != nil {
			g.t.Fatalf("%s %s: %v", network, name, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			conn.SetReadDeadline(deadline)
			buf := make([]byte, 65535)
			var got []string
			for {
				n, err := conn.Read(buf)
				if err != nil {
					break
				}
				got = append(got, startLines(string(buf[:n]))...)
			}
			mu.Lock()
			answers[name] = got
			mu.Unlock()
		}()
	}
	wg.Wait()
	return answers
}

func localAddr(network, ip string) net.Addr {
	if network == "udp" {
		return &net.UDPAddr{IP: net.ParseIP(ip)}
	}
	return &net.TCPAddr{IP: net.ParseIP(ip)}
}

var statusLine = regexp.MustCompile(`(?m)^SIP/2\.0 \d{3}[^\r\n]*`)

// startLines lists the status lines in a read (a TCP read can hold several answers).
func startLines(s string) []string { return statusLine.FindAllString(s, -1) }

// rawCarrier listens as the carrier on UDP and TCP and keeps what arrives.
type rawCarrier struct {
	mu  sync.Mutex
	got []string
}

func (g *gatekeeper) rawCarrier() *rawCarrier {
	g.t.Helper()
	c := &rawCarrier{}
	addr := net.JoinHostPort(g.carrierHost, fmt.Sprint(g.carrierPort))
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		g.t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { pc.Close(); l.Close() })
	keep := func(b []byte) {
		c.mu.Lock()
		c.got = append(c.got, string(b))
		c.mu.Unlock()
	}
	go func() {
		buf := make([]byte, 65535)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			keep(buf[:n])
		}
	}()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 65535)
				for {
					n, err := conn.Read(buf)
					if err != nil {
						return
					}
					keep(buf[:n])
				}
			}()
		}
	}()
	return c
}

func (c *rawCarrier) all() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.got, "\n")
}

var callIDLine = regexp.MustCompile(`(?mi)^(?:call-id|i)[ \t]*:[ \t]*(\S+)`)

// All of RFC 4475 against the built gatekeeper over UDP and over TCP, from a
// dialer's address: no valid message is answered 400, no invalid one reaches
// the carrier, and the gatekeeper keeps serving. The messages name foreign
// hosts; every packet stays on loopback, since the gatekeeper answers the
// source address and resolves no names.
func TestRFC4475TortureMessagesOverUDPAndTCP(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	carrier := g.rawCarrier()
	msgs := tortureMessages(t)
	for _, network := range []string{"udp", "tcp"} {
		for name, got := range g.sendEach(network, msgs["valid"], 1500*time.Millisecond) {
			for _, l := range got {
				if strings.HasPrefix(l, "SIP/2.0 400") {
					t.Errorf("%s: the valid message %s was answered %q", network, name, l)
				}
			}
		}
		g.sendEach(network, msgs["invalid"], 500*time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	forwarded := carrier.all()
	for name, data := range msgs["invalid"] {
		if m := callIDLine.FindSubmatch(data); m != nil && strings.Contains(forwarded, string(m[1])) {
			t.Errorf("the invalid message %s reached the carrier", name)
		}
	}
	select {
	case err := <-g.exited:
		g.exited <- err
		t.Fatalf("the gatekeeper exited: %v\n%s", err, g.log.String())
	default:
	}
	if got := g.sendRaw(dialerIP, "OPTIONS sip:127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;rport;branch=z9hG4bKalive\nMax-Forwards: 70\nFrom: <sip:probe@127.0.0.2>;tag=p\nTo: <sip:127.0.0.1>\nCall-ID: alive\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n"); !strings.HasPrefix(got, "SIP/2.0 200 ") {
		t.Errorf("after the torture run an OPTIONS got %q", got)
	}
	if strings.Contains(g.log.String(), "panic") {
		t.Errorf("the gatekeeper logged a panic:\n%s", g.log.String())
	}
	g.stop()
}
