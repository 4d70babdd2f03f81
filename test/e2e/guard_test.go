package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// floodDialer is a second dialer whose source is the stranger's address.
const floodDialer = "  - name: flood\n    sources: [\"" + strangerIP + "/32\"]\n    automated: true\n"

// One dialer floods at as many calls per second as SIPp sends; the other's
// calls keep completing, and the flood is answered 503 beyond its rate.
func TestFloodFromOneDialerLeavesTheOtherCompleting(t *testing.T) {
	g := newGatekeeper(t)
	g.sipExtra = "  limits: {per_source: 50}\n"
	g.moreDialers = floodDialer
	g.writeConfig()
	g.importList("internal", listedNumber)
	g.start()

	const calls, rate = 200, 20 // 10 s of calls from the steady dialer
	carrier := g.carrier("uas.xml", calls*10)
	flood := startSippTracing(t, nil, "uac_flood.xml", "-i", strangerIP, "-p", fmt.Sprint(freePort(t, strangerIP)),
		"-s", listedNumber, "-r", "10000", "-m", "200000", fmt.Sprintf("%s:%d", carrierIP, g.port))
	// The flooding SIPp runs at the lowest CPU priority: on two cores it
	// would otherwise take the steady dialer's SIPp's share of the CPU, and the
	// test is of the gatekeeper's admission, not of the scheduler. It still
	// sends many times what the limit lets through (the 503s below).
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, flood.cmd.Process.Pid, 19); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the flood is on
	stats := filepath.Join(t.TempDir(), "stats.csv")
	steady := g.dial(dialerIP, "uac.xml", cleanNumber, "-m", fmt.Sprint(calls), "-r", fmt.Sprint(rate),
		"-trace_stat", "-stf", stats, "-fd", "1")
	flood.cancel()
	carrier.cancel()

	ok, failed := sippCounts(t, stats)
	// A call whose last answer the flood crowds out is neither counted
	// successful nor failed when SIPp stops: the share completed is what counts.
	if ok+failed > calls || float64(ok) < 0.99*calls {
		t.Errorf("the steady dialer completed %d of %d calls under the flood (%d failed), want at least 99%%\n%s", ok, calls, failed, steady.out.String())
	}
	m := g.adminGet("/metrics")
	limited := metricValue(t, m, `gatekeeper_sip_refused_total{reason="rate_limited"}`)
	decided := metricValue(t, m, `gatekeeper_decisions_total{decision="reject",rule="internal-dnc",status="603"}`)
	t.Logf("steady dialer: %d of %d calls completed; flood: %v INVITEs answered 503, %v decided by the policy; gatekeeper: %v goroutines, RSS %.0f MB",
		ok, calls, limited, decided, metricValue(t, m, "go_goroutines"), metricValue(t, m, "process_resident_memory_bytes")/1e6)
	if limited == 0 {
		t.Error("no INVITE of the flood was answered 503")
	}
}

// sippCounts reads the successful and failed calls from SIPp's last statistics line.
func sippCounts(t *testing.T, path string) (ok, failed int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	head, last := strings.Split(lines[0], ";"), strings.Split(lines[len(lines)-1], ";")
	for i, name := range head {
		if i >= len(last) {
			break
		}
		switch name {
		case "SuccessfulCall(C)":
			ok, _ = strconv.Atoi(last[i])
		case "FailedCall(C)":
			failed, _ = strconv.Atoi(last[i])
		}
	}
	return ok, failed
}

// metricValue reads one sample of the metrics text; 0 when it is absent.
func metricValue(t *testing.T, metrics, sample string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A stranger's garbage is counted and summarised, never logged a line per
// datagram, and never answered.
func TestStrangersGarbageKeepsTheLogShort(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	conn, err := net.ListenPacket("udp", strangerIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to := &net.UDPAddr{IP: net.ParseIP(carrierIP), Port: g.port}
	before := strings.Count(g.log.String(), "\n")
	const sent = 5000
	for i := range sent {
		conn.WriteTo([]byte(fmt.Sprintf("garbage %d %s\r\n\r\n", i, strings.Repeat("\x01", 500))), to)
		if i%20 == 0 {
			time.Sleep(2 * time.Millisecond) // within the socket's buffer
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	var counted float64
	for time.Now().Before(deadline) {
		if counted = metricValue(t, g.adminGet("/metrics"), `gatekeeper_sip_refused_total{reason="unparsable"}`); counted == sent {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if counted < sent/2 { // UDP may lose some on a loaded machine, not most
		t.Errorf("%v of %d garbage datagrams counted", counted, sent)
	}
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := conn.ReadFrom(make([]byte, 2048)); err == nil {
		t.Errorf("garbage was answered with %d bytes", n)
	}
	g.stop() // the last summary is logged as the proxy stops
	log := g.log.String()
	if added := strings.Count(log, "\n") - before; added > 20 {
		t.Errorf("%d log lines for %d garbage datagrams:\n%.3000s", added, sent, log)
	}
	if !regexp.MustCompile(`requests refused or dropped".*unparsable=\d+ sources="127\.0\.0\.3 \(\d+\)"`).MatchString(log) {
		t.Errorf("no summary line names the garbage and its source:\n%s", log)
	}
}

// A dialer with digest credentials is challenged and its calls go through
// once SIPp answers the challenge; a wrong password gets 403 and nothing
// reaches the carrier.
func TestDigestAuthenticatedDialer(t *testing.T) {
	g := newGatekeeper(t)
	// SIPp 3.6 answers the first challenge and knows MD5 alone.
	g.dialerExtra = "    auth: {username: predictive, password_file: dialer.secret, algorithms: [MD5]}\n"
	g.writeConfig()
	writeFile(t, filepath.Join(g.dir, "dialer.secret"), "s3cret\n")
	g.start()

	carrier := g.carrier("uas.xml", 1)
	ok := g.dial(dialerIP, "uac_auth.xml", cleanNumber, "-au", "predictive", "-ap", "s3cret")
	ok.mustPass()
	carrier.mustPass()
	if got := ok.received(); len(got) < 2 || !strings.HasPrefix(got[0], "SIP/2.0 407") && !strings.HasPrefix(got[1], "SIP/2.0 407") {
		t.Errorf("the dialer was not challenged: %q", got)
	}

	carrier = g.carrier("uas.xml", 1)
	wrong := g.dial(dialerIP, "uac_auth.xml", cleanNumber, "-au", "predictive", "-ap", "guess")
	wrong.mustPass()
	if got := carrier.received(); len(got) != 0 {
		t.Errorf("the carrier saw %q from a dialer with a wrong password", got)
	}
	if n := metricValue(t, g.adminGet("/metrics"), `gatekeeper_sip_refused_total{reason="unauthorized"}`); n != 1 {
		t.Errorf("unauthorized counted %v, want 1", n)
	}
}
