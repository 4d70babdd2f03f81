// Package e2e runs the built gatekeeper binary between a real SIPp dialer and
// a real SIPp carrier on loopback. Dialers send from 127.0.0.2 (the only
// configured dialer source), the carrier listens on 127.0.0.1; 127.0.0.3 plays
// a stranger. Every process is bounded in time.
package e2e

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/policy"
)

const (
	dialerIP   = "127.0.0.2"
	carrierIP  = "127.0.0.1"
	strangerIP = "127.0.0.3"
)

var (
	binary   string // the gatekeeper built for this test run
	repoRoot string
	sippDir  string // test/sipp
)

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("sipp"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: sipp is not installed (Debian package sip-tester): apt-get install -y sip-tester")
		os.Exit(1)
	}
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Join(filepath.Dir(file), "..", "..")
	sippDir = filepath.Join(repoRoot, "test", "sipp")
	tmp, err := os.MkdirTemp("", "gk-e2e-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(tmp, "gatekeeper")
	// -buildvcs=true: the binary carries its git revision, as a user's go build does
	// (this machine's go env turns it off; in a git worktree Go finds no revision).
	build := exec.Command("go", "build", "-buildvcs=true", "-o", binary, "./cmd/gatekeeper")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building gatekeeper: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// handedOut keeps freePort from giving one port twice in a run: the port is
// closed again before its user binds it.
var handedOut sync.Map

// freePort finds a port free for both UDP and TCP on ip.
func freePort(t *testing.T, ip string) int {
	t.Helper()
	for range 50 {
		u, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(port)))
		u.Close()
		if err == nil {
			l.Close()
			if _, taken := handedOut.LoadOrStore(port, true); !taken {
				return port
			}
		}
	}
	t.Fatal("no free port")
	return 0
}

// gatekeeper is one running `gatekeeper serve`.
type gatekeeper struct {
	t           *testing.T
	dir, config string
	// sipIP is where SIP listens (default carrierIP), port its port (UDP and TCP).
	sipIP       string
	port        int
	carrierPort int
	// ipv6 makes the gatekeeper also listen on [::1]:port6 (UDP and TCP) and
	// take calls from ::1; carrierHost is where the carrier listens.
	ipv6        bool
	port6       int
	carrierHost string
	// sipExtra is more of the config's sip section, e.g. "  large_requests: udp\n";
	// auditExtra of its audit section, e.g. "  sync: always\n".
	sipExtra, auditExtra string
	// withTLS adds a tls:// listener on carrierIP:tlsPort (useTLS).
	withTLS  bool
	tlsPort  int
	httpPort int
	// dialerExtra is more of the predictive dialer's entry ("    auth: ...\n"),
	// moreDialers more entries of the dialers section.
	dialerExtra, moreDialers string
	// sections are more top-level sections of the config ("media:\n  ...").
	sections string
	// clock, when set, starts the gatekeeper's clock at this RFC 3339 time.
	clock string
	// drainTimeout is sip.drain_timeout (default 5s).
	drainTimeout string
	cmd          *exec.Cmd
	log          *syncBuffer
	exited       chan error
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newGatekeeper writes a config and policy into a fresh folder; start runs it.
func newGatekeeper(t *testing.T) *gatekeeper {
	t.Helper()
	dir, err := os.MkdirTemp("", "gk") // short: the admin socket path must stay under ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	g := &gatekeeper{t: t, dir: dir, carrierHost: carrierIP, carrierPort: freePort(t, carrierIP)}
	g.config = filepath.Join(dir, "gatekeeper.yaml")
	g.writeConfig()
	g.addRules("")
	return g
}

// addRules writes the test policy with more rules after its internal-dnc
// rule (YAML list items, e.g. "  - name: frequency\n    ...").
func (g *gatekeeper) addRules(rules string) {
	// The proxy's own tests run on a policy that does not depend on the time of
	// day or on other data sets; the shipped policy has tests of its own.
	writeFile(g.t, filepath.Join(g.dir, "policy.yaml"), `mode: enforce
lists:
  internal: the company's own Do-Not-Call list
rules:
  - name: internal-dnc
    match:
      listed: [internal]
    action: reject
`+rules)
}

// writeConfig picks the gatekeeper's own ports and writes its config.
func (g *gatekeeper) writeConfig() {
	sipIP := cmp.Or(g.sipIP, carrierIP)
	g.port, g.httpPort = freePort(g.t, sipIP), freePort(g.t, carrierIP)
	listen := fmt.Sprintf(`"udp://%[1]s:%[2]d", "tcp://%[1]s:%[2]d"`, sipIP, g.port)
	sources := `"` + dialerIP + `/32"`
	if g.ipv6 {
		g.port6 = freePort(g.t, "::1")
		listen += fmt.Sprintf(`, "udp://[::1]:%[1]d", "tcp://[::1]:%[1]d"`, g.port6)
		sources += `, "::1/128"`
	}
	if g.withTLS {
		g.tlsPort = freePort(g.t, carrierIP)
		listen += fmt.Sprintf(`, "tls://%s:%d"`, carrierIP, g.tlsPort)
	}
	writeFile(g.t, g.config, fmt.Sprintf(`sip:
  listen: [%[1]s]
  carrier: "sip:%[2]s"
  drain_timeout: %[7]s
%[6]sdialers:
  - name: predictive
    sources: [%[3]s]
    automated: true
%[8]s%[9]sdata_dir: ./data
audit:
  dir: ./audit
%[10]spolicy: policy.yaml
admin:
  http: "%[4]s:%[5]d"
%[11]s`, listen, net.JoinHostPort(g.carrierHost, fmt.Sprint(g.carrierPort)), sources, carrierIP, g.httpPort, g.sipExtra, cmp.Or(g.drainTimeout, "5s"), g.dialerExtra, g.moreDialers, g.auditExtra, g.sections))
}

// useIPv6 makes the gatekeeper listen on [::1] too and take calls from ::1;
// with carrierToo the carrier listens on ::1.
func (g *gatekeeper) useIPv6(carrierToo bool) {
	g.t.Helper()
	g.ipv6 = true
	if carrierToo {
		g.carrierHost, g.carrierPort = "::1", freePort(g.t, "::1")
	}
	g.writeConfig()
}

// useShippedPolicy replaces the test policy with configs/policy.yaml.
func (g *gatekeeper) useShippedPolicy() {
	g.t.Helper()
	shipped, err := os.ReadFile(filepath.Join(repoRoot, "configs", "policy.yaml"))
	if err != nil {
		g.t.Fatal(err)
	}
	writeFile(g.t, filepath.Join(g.dir, "policy.yaml"), string(shipped))
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// start runs serve and waits until it listens. A port taken between
// freePort and the bind (tests of other packages run alongside) means new
// ports and another try.
func (g *gatekeeper) start() {
	g.t.Helper()
	for try := 1; !g.run1(); try++ {
		if try == 3 || !strings.Contains(g.log.String(), "address already in use") {
			g.t.Fatalf("gatekeeper did not start:\n%s", g.log.String())
		}
		g.writeConfig()
	}
}

// startWait bounds how long serve may take to come up. A clustered node's
// first start makes the shared buckets (R3) on NATS servers that have just
// started, so it waits for their JetStream leader and each bucket's to be
// elected: 2.7-3.3 s at load 12-16, and an election round that fails waits
// 4-9 s for the next (nats-server's election timeout), past the former
// 10 s. cluster.Open gives that 30 s, after which serve stops with its error.
const startWait = 40 * time.Second

// run1 starts serve once and reports whether it came up.
func (g *gatekeeper) run1() bool {
	t := g.t
	t.Helper()
	g.log = &syncBuffer{}
	args := []string{"serve", "--config", g.config}
	if g.clock != "" {
		args = append(args, "--clock", g.clock)
	}
	g.cmd = exec.Command(binary, args...)
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g.exited = make(chan error, 1)
	cmd, exited := g.cmd, g.exited
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(startWait)
	for !strings.Contains(g.log.String(), "gatekeeper is serving") {
		select {
		case err := <-exited:
			exited <- err
			return false
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gatekeeper did not start:\n%s", g.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// stop sends SIGTERM and waits for the drain to finish.
func (g *gatekeeper) stop() {
	t := g.t
	t.Helper()
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-g.exited:
		if err != nil {
			t.Fatalf("gatekeeper exited with %v:\n%s", err, g.log.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("gatekeeper did not stop on SIGTERM:\n%s", g.log.String())
	}
}

// run runs a gatekeeper subcommand with this config.
func (g *gatekeeper) run(args ...string) (string, error) {
	args = append(args[:1:1], append([]string{"--config", g.config}, args[1:]...)...)
	out, err := exec.Command(binary, args...).CombinedOutput()
	return string(out), err
}

// importList loads numbers into a list through the CLI; extra flags go to import.
func (g *gatekeeper) importList(list string, numbers ...string) {
	g.t.Helper()
	g.importListWith(list, nil, numbers...)
}

func (g *gatekeeper) importListWith(list string, flags []string, numbers ...string) {
	g.t.Helper()
	f := filepath.Join(g.dir, list+fmt.Sprint(time.Now().UnixNano())+".txt")
	writeFile(g.t, f, strings.Join(numbers, "\n")+"\n")
	args := append([]string{"import", "--list", list}, flags...)
	if out, err := g.run(append(args, f)...); err != nil {
		g.t.Fatalf("import: %v\n%s", err, out)
	}
}

// auditRecords reads every decision logged so far.
func (g *gatekeeper) auditRecords() []map[string]any {
	g.t.Helper()
	return g.auditLog("decision")
}

// auditLog reads every record of a kind logged so far.
func (g *gatekeeper) auditLog(kind string) []map[string]any {
	g.t.Helper()
	var recs []map[string]any
	for _, line := range g.auditLines(kind) {
		var r map[string]any
		if err := json.Unmarshal(line, &r); err != nil {
			g.t.Fatalf("%v: %s", err, line)
		}
		recs = append(recs, r)
	}
	return recs
}

// auditLines reads every record of a kind logged so far, as stored, in seq order.
func (g *gatekeeper) auditLines(kind string) [][]byte {
	g.t.Helper()
	files, _ := filepath.Glob(filepath.Join(g.dir, "audit", "decisions-*.jsonl*"))
	type record struct {
		Seq  uint64 `json:"seq"`
		Kind string `json:"kind"`
		line []byte
	}
	var recs []record
	for _, f := range files {
		if !strings.HasSuffix(f, ".jsonl") && !strings.HasSuffix(f, ".jsonl.gz") {
			continue // a compression's temporary file
		}
		data, err := readAuditFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue // compressed meanwhile: the .gz is in files too
		}
		if err != nil {
			g.t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if !bytes.HasSuffix(sc.Bytes(), []byte(`"}`)) {
				continue // a line a crash cut short, sealed at the next start
			}
			r := record{line: bytes.Clone(sc.Bytes())}
			if err := json.Unmarshal(r.line, &r); err != nil {
				g.t.Fatalf("%s: %v: %s", f, err, sc.Text())
			}
			if r.Kind == kind {
				recs = append(recs, r)
			}
		}
	}
	slices.SortFunc(recs, func(a, b record) int { return cmp.Compare(a.Seq, b.Seq) })
	lines := make([][]byte, len(recs))
	for i, r := range recs {
		lines[i] = r.line
	}
	return lines
}

// traceOf reads a decision's trace as every reader of the log does, from
// the line as stored (a map would lose the order of its rules).
func (g *gatekeeper) traceOf(decision map[string]any) policy.Trace {
	g.t.Helper()
	for _, line := range g.auditLines("decision") {
		var r struct {
			Seq   float64      `json:"seq"`
			Trace policy.Trace `json:"trace"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			g.t.Fatalf("the trace does not read: %v: %s", err, line)
		}
		if r.Seq == decision["seq"] {
			return r.Trace
		}
	}
	g.t.Fatalf("no decision seq %v", decision["seq"])
	return nil
}

// readAuditFile reads a file of the decision log, gunzipping a compressed
// one. A compressed file whose plain one is still there (compression under
// way) reads as not existing, so that no record is read twice.
func readAuditFile(path string) ([]byte, error) {
	plain, ok := strings.CutSuffix(path, ".gz")
	if !ok {
		return os.ReadFile(path)
	}
	if _, err := os.Stat(plain); err == nil {
		return nil, fs.ErrNotExist
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(z)
}

// adminGet answers path on the gatekeeper's admin HTTP listener
// (/metrics: the Prometheus metrics; /: the auditors' page).
func (g *gatekeeper) adminGet(path string) string {
	g.t.Helper()
	_, body := g.adminStatus(path)
	return body
}

// adminStatus answers path on the admin HTTP listener with its status.
func (g *gatekeeper) adminStatus(path string) (int, string) {
	g.t.Helper()
	res, err := http.Get(fmt.Sprintf("http://%s:%d%s", carrierIP, g.httpPort, path))
	if err != nil {
		g.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// sipp is one SIPp process with its message trace.
type sipp struct {
	t      *testing.T
	dir    string
	cmd    *exec.Cmd
	out    bytes.Buffer
	done   chan error
	cancel context.CancelFunc
}

// startSipp runs SIPp with a scenario from test/sipp, tracing messages into a temp folder.
func startSipp(t *testing.T, scenario string, args ...string) *sipp {
	t.Helper()
	return startSippTracing(t, []string{"-trace_msg", "-trace_err"}, scenario, args...)
}

// startSippTracing runs SIPp with a scenario from test/sipp (or one at an
// absolute path) and trace options of its own (none for a flood, whose
// messages would fill the disk).
func startSippTracing(t *testing.T, trace []string, scenario string, args ...string) *sipp {
	t.Helper()
	if !filepath.IsAbs(scenario) {
		scenario = filepath.Join(sippDir, scenario)
	}
	return runSipp(t, append([]string{"-sf", scenario}, trace...), args...)
}

// runSipp runs SIPp with the options that name its scenario and trace, then args.
func runSipp(t *testing.T, scenario []string, args ...string) *sipp {
	t.Helper()
	s := &sipp{t: t, dir: t.TempDir(), done: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	s.cancel = cancel
	all := slices.Concat(scenario, []string{"-nostdin", "-timeout", "30s", "-timeout_error"}, args)
	s.cmd = exec.CommandContext(ctx, "sipp", all...)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-s.done
		s.done <- nil
	})
	return s
}

// carrier starts a SIPp carrier for the gatekeeper that answers calls
// callsExpected times; args go to SIPp.
func (g *gatekeeper) carrier(scenario string, calls int, args ...string) *sipp {
	return startSipp(g.t, scenario, append(g.carrierArgs(calls), args...)...)
}

// builtinCarrier is carrier with one of SIPp's own scenarios (-sn), e.g.
// "uas", the one call centers try a SIP setup with.
func (g *gatekeeper) builtinCarrier(name string, calls int) *sipp {
	return runSipp(g.t, []string{"-sn", name, "-trace_msg", "-trace_err"}, g.carrierArgs(calls)...)
}

func (g *gatekeeper) carrierArgs(calls int) []string {
	return []string{"-i", g.carrierHost, "-p", fmt.Sprint(g.carrierPort), "-m", fmt.Sprint(calls)}
}

// dial runs a SIPp dialer from ip through the gatekeeper to completion; a
// dialer on ::1 calls the gatekeeper's IPv6 address.
func (g *gatekeeper) dial(ip, scenario, called string, args ...string) *sipp {
	s := g.startDial(ip, scenario, called, args...)
	s.wait()
	return s
}

// startDial starts a SIPp dialer as dial does, without waiting for it.
func (g *gatekeeper) startDial(ip, scenario, called string, args ...string) *sipp {
	all := append([]string{"-i", ip, "-p", fmt.Sprint(freePort(g.t, ip)), "-s", called, "-m", "1"}, args...)
	if ip == "::1" {
		all = append(all, fmt.Sprintf("[::1]:%d", g.port6))
	} else {
		all = append(all, fmt.Sprintf("%s:%d", cmp.Or(g.sipIP, carrierIP), g.port))
	}
	return startSipp(g.t, scenario, all...)
}

// wait waits for SIPp to end; ok reports whether every call passed.
func (s *sipp) wait() error {
	err := <-s.done
	s.done <- err
	return err
}

// mustPass fails the test unless the scenario passed.
func (s *sipp) mustPass() {
	s.t.Helper()
	if err := s.wait(); err != nil {
		s.t.Fatalf("sipp %v: %v\n%s\n%s", s.cmd.Args, err, s.out.String(), s.messages())
	}
}

// messages is SIPp's message trace.
func (s *sipp) messages() string {
	files, _ := filepath.Glob(filepath.Join(s.dir, "*_messages.log"))
	var b strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		b.Write(data)
	}
	return b.String()
}

// received lists the start lines of the messages SIPp received.
func (s *sipp) received() []string {
	var lines []string
	blocks := strings.Split(s.messages(), "message received")
	for _, b := range blocks[1:] {
		_, rest, _ := strings.Cut(b, "\n")
		rest = strings.TrimLeft(rest, "\r\n")
		line, _, _ := strings.Cut(rest, "\n")
		lines = append(lines, strings.TrimSpace(line))
	}
	return lines
}

// sendRaw sends one UDP datagram from ip to the gatekeeper and returns the first answer.
func (g *gatekeeper) sendRaw(ip, msg string) string {
	g.t.Helper()
	conn, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		g.t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	msg = strings.ReplaceAll(msg, "LOCAL", local)
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, "\r\n", "\n"), "\n", "\r\n")
	dst := &net.UDPAddr{IP: net.ParseIP(carrierIP), Port: g.port}
	if _, err := conn.WriteTo([]byte(msg), dst); err != nil {
		g.t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 4096)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return ""
		}
		if !strings.HasPrefix(string(buf[:n]), "SIP/2.0 100 ") {
			return string(buf[:n])
		}
	}
}
