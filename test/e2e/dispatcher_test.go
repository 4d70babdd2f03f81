package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/cluster"
	"github.com/gatekeeper-sip/gatekeeper/internal/config"
)

// The addresses of the three nodes: each runs a NATS server (in the test's
// process) and a gatekeeper.
var nodeIPs = []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}

const (
	cappedNumber = "2025550188" // called under a cap of capLimit by campaign "capped"
	capLimit     = 5
	optOutNumber = "2025550177" // opted out while a node is down
	loadRate     = 30           // calls a second through the dispatcher
)

// Three gatekeepers share three NATS servers behind Kamailio's dispatcher
// (configs/kamailio-dispatcher.cfg), which hashes the called number. Under
// SIPp load through the dispatcher, the gatekeeper that takes the capped
// number is SIGKILLed once it has forwarded 3 of its calls:
//   - its calls move to the other two: the dialer's failed calls are at
//     most the calls it held at the kill (at loadRate/3 calls a second on
//     it, each taking well under a second, fewer than loadRate/3; the bound
//     also takes the capped calls' dialer, whose call held there may fail);
//   - the capped number, called 12 times at 2 a second across the kill,
//     reaches the carrier exactly capLimit times: the cap's stream is shared;
//   - an opt-out recorded through another node while it is down holds on it
//     from its first OPTIONS 200 after the restart, which comes only once
//     its log says it caught up, and the dispatcher sends it calls again.
func TestGatekeeperKilledBehindDispatcher(t *testing.T) {
	if _, err := exec.LookPath("kamailio"); err != nil {
		t.Skip("kamailio is not installed (Debian package kamailio)")
	}
	natsURLs := startNATSCluster(t)
	carrierPort := freePort(t, carrierIP)
	nodes := make([]*gatekeeper, len(nodeIPs))
	for i, ip := range nodeIPs {
		g := newGatekeeper(t)
		g.sipIP, g.carrierPort = ip, carrierPort
		g.sections = fmt.Sprintf("cluster:\n  node: gk-%c\n  nats: [%s]\n  replicas: 3\n", 'a'+i, strings.Join(natsURLs, ", "))
		g.addRules(fmt.Sprintf(`  - name: frequency
    match:
      campaign: [capped]
      attempts: {limit: %d, within: 24h}
    action: reject
    status: 486
`, capLimit))
		g.writeConfig()
		g.start()
		nodes[i] = g
	}
	d := startDispatcher(t, nodes)
	d.waitFlags(t, nodes, "A")

	numbers := filepath.Join(t.TempDir(), "numbers.csv")
	var lines []string
	for n := range 60 {
		lines = append(lines, fmt.Sprint(2025550100+n))
	}
	writeFile(t, numbers, "SEQUENTIAL\n"+strings.Join(lines, "\n")+"\n")

	carrier := startSipp(t, "uas.xml", "-i", carrierIP, "-p", fmt.Sprint(carrierPort), "-m", "100000")
	through := fmt.Sprintf("%s:%d", dialerIP, d.port)
	const loadCalls = 15 * loadRate
	stats := filepath.Join(t.TempDir(), "load.csv")
	load := startSipp(t, "uac_numbers.xml", "-inf", numbers, "-i", dialerIP, "-p", fmt.Sprint(freePort(t, dialerIP)),
		"-r", fmt.Sprint(loadRate), "-m", fmt.Sprint(loadCalls), "-recv_timeout", "10000",
		"-trace_stat", "-stf", stats, "-fd", "1", through)
	time.Sleep(2 * time.Second)
	const cappedCalls = 12
	capped := startSipp(t, "uac_any.xml", "-s", cappedNumber, "-set", "campaign", "capped", "-i", dialerIP,
		"-p", fmt.Sprint(freePort(t, dialerIP)), "-r", "2", "-m", fmt.Sprint(cappedCalls), "-recv_timeout", "10000", through)

	// Kill the node the capped number hashes to once it has forwarded 3 of its calls.
	var victim int
	deadline := time.Now().Add(15 * time.Second)
	for {
		invites := carrierInvites(carrier.messages(), cappedNumber)
		if len(invites) >= 3 {
			victim = nodeOf(t, nodes, invites[0].via)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the capped number's calls did not reach the carrier:\n%s", capped.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	x := nodes[victim]
	x.cmd.Process.Kill()
	<-x.exited
	x.exited <- nil
	t.Logf("killed gk-%c (%s) after the capped number's third forwarded call", 'a'+victim, x.sipIP)

	other := nodes[(victim+1)%len(nodes)]
	if out, err := other.run("dnc", "add", "--list", "internal", optOutNumber); err != nil {
		t.Fatalf("dnc add through gk-%c while gk-%c is down: %v\n%s", 'a'+(victim+1)%len(nodes), 'a'+victim, err, out)
	}

	load.wait()
	capped.wait()
	completed, failed := sippCounts(t, stats)
	t.Logf("load through the dispatcher: %d calls completed, %d failed", completed, failed)
	if maxFailed := loadRate/3 + 3; failed > maxFailed || completed+failed != loadCalls {
		t.Errorf("load: %d completed and %d failed of %d calls; at most %d may fail (the calls the killed node held)\n%s",
			completed, failed, loadCalls, maxFailed, load.out.String())
	}
	forwarded := carrierInvites(carrier.messages(), cappedNumber)
	if len(forwarded) != capLimit {
		t.Errorf("the capped number reached the carrier %d times, want exactly %d: %v", len(forwarded), capLimit, forwarded)
	}
	refused := strings.Count(strings.Join(capped.received(), "\n"), "SIP/2.0 486 ")
	t.Logf("the capped number: %d calls, %d reached the carrier, %d refused with 486", cappedCalls, len(forwarded), refused)
	if refused < cappedCalls-capLimit-1 {
		t.Errorf("the capped number's dialer got %d refusals (486), want at least %d:\n%v", refused, cappedCalls-capLimit-1, capped.received())
	}
	carrier.cancel()
	carrier.wait()

	// Restart the killed node, probing it with OPTIONS as it comes up.
	first200 := make(chan string, 1)
	stopProbe := make(chan struct{})
	go func() {
		defer close(first200)
		for {
			select {
			case <-stopProbe:
				return
			default:
			}
			if strings.HasPrefix(options(x.sipIP, x.port), "SIP/2.0 200 ") {
				first200 <- x.log.String()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	x.start()
	var logAt200 string
	select {
	case logAt200 = <-first200:
	case <-time.After(10 * time.Second):
		close(stopProbe)
		t.Fatalf("the restarted node never answered OPTIONS 200:\n%s", x.log.String())
	}
	if !strings.Contains(logAt200, "caught up with the cluster") {
		t.Errorf("the restarted node answered OPTIONS 200 before it caught up with the cluster; its log then:\n%s", logAt200)
	}
	// The opt-out made while it was down is in force from that first 200 on.
	x.dial(dialerIP, "uac_reject.xml", optOutNumber, "-set", "expect", "603").mustPass()

	// The dispatcher's probes find it again, and it takes calls again.
	d.waitFlags(t, nodes, "A")
	before := len(x.auditRecords())
	carrier = startSipp(t, "uas.xml", "-i", carrierIP, "-p", fmt.Sprint(carrierPort), "-m", "100000")
	again := startSipp(t, "uac_numbers.xml", "-inf", numbers, "-i", dialerIP, "-p", fmt.Sprint(freePort(t, dialerIP)),
		"-r", fmt.Sprint(loadRate), "-m", "60", "-recv_timeout", "10000", through)
	again.mustPass()
	carrier.cancel()
	after := len(x.auditRecords())
	t.Logf("after the restart: %d of 60 calls through the dispatcher decided by the restarted node", after-before)
	if after == before {
		t.Errorf("the restarted node took none of 60 calls to 60 numbers through the dispatcher (%d decisions before and after)", before)
	}
}

// A 503 that is not a gatekeeper's own unavailability goes through the
// dispatcher to the dialer as it is: a policy's refusal (a rule answering
// 503 with Retry-After, as the shipped abandonment-rate rule does) and the
// carrier's 503 relayed by a gatekeeper that is well. No other gatekeeper
// gets the call (one decision in all) and none is set inactive, as happened
// when every 503 failed over. A gatekeeper's own 503 for the dialers' rate
// (X-Gatekeeper-Unavailable: rate-limited) moves the call to the next
// gatekeeper and leaves the first one active.
func TestNonUnavailable503StaysBehindDispatcher(t *testing.T) {
	if _, err := exec.LookPath("kamailio"); err != nil {
		t.Skip("kamailio is not installed (Debian package kamailio)")
	}
	const pausedNumber, busyNumber, burstNumber = "2025550166", "2025550155", "2025550144"
	carrierPort := freePort(t, carrierIP)
	nodes := make([]*gatekeeper, len(nodeIPs))
	for i, ip := range nodeIPs {
		g := newGatekeeper(t)
		g.sipIP, g.carrierPort = ip, carrierPort
		// Two new INVITEs a second from the dispatcher: a third at once is rate-limited.
		g.sipExtra = "  limits: {per_source: 2}\n"
		g.addRules(`  - name: campaign-paused
    match:
      campaign: [paused]
    action: reject
    status: 503
    retry_after: 300
`)
		g.writeConfig()
		g.start()
		nodes[i] = g
	}
	d := startDispatcher(t, nodes)
	d.waitFlags(t, nodes, "A")
	// deciders lists the nodes that decided calls to number, one entry a call.
	deciders := func(number string) []int {
		var by []int
		for i, g := range nodes {
			for _, r := range g.auditRecords() {
				if r["called"] == "+1"+number {
					by = append(by, i)
				}
			}
		}
		return by
	}

	// Watch the dispatcher's flags while the calls run: a node set inactive
	// is active again at its next probe, a second later.
	stop, inactive := make(chan struct{}), make(chan string, 1)
	go func() {
		defer close(inactive)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			flags, err := d.flags()
			if err != nil {
				continue
			}
			for addr, f := range flags {
				if !strings.HasPrefix(f, "A") {
					inactive <- addr + " " + f
					return
				}
			}
		}
	}()
	carrier := startSipp(t, "uas_503.xml", "-i", carrierIP, "-p", fmt.Sprint(carrierPort), "-m", "10")
	through := fmt.Sprintf("%s:%d", dialerIP, d.port)
	dial := func(number string, args ...string) *sipp {
		args = append([]string{"-s", number, "-set", "expect", "503", "-i", dialerIP, "-p", fmt.Sprint(freePort(t, dialerIP))}, args...)
		return startSipp(t, "uac_reject.xml", append(args, through)...)
	}
	paused := dial(pausedNumber, "-m", "1", "-set", "campaign", "paused")
	busy := dial(busyNumber, "-m", "1")
	paused.mustPass()
	busy.mustPass()
	if got := paused.messages(); !strings.Contains(got, "X-Gatekeeper-Rule: campaign-paused") || !strings.Contains(got, "Retry-After: 300") {
		t.Errorf("the dialer did not get the rule's 503 as the gatekeeper sent it:\n%s", got)
	}
	if got := busy.messages(); !strings.Contains(got, "Retry-After: 60") {
		t.Errorf("the dialer did not get the carrier's 503 as it was:\n%s", got)
	}
	for _, number := range []string{pausedNumber, busyNumber} {
		if by := deciders(number); len(by) != 1 {
			t.Errorf("the call to %s was decided %d times, by nodes %v; want once: it must not move to another gatekeeper", number, len(by), by)
		}
	}
	if strings.Contains(d.log.String(), "next one") {
		t.Errorf("the dispatcher failed a call over:\n%s", d.log.String())
	}

	// Four calls to one number at once: its node takes two, the others go
	// on to the next node.
	const burstCalls = 4
	burst := dial(burstNumber, "-m", fmt.Sprint(burstCalls), "-r", "100")
	burst.mustPass()
	close(stop)
	carrier.cancel()
	if what, ok := <-inactive; ok {
		t.Errorf("the dispatcher set a gatekeeper inactive for a 503 that was not for its health: %s", what)
	}
	by := deciders(burstNumber)
	count := map[int]int{}
	for _, i := range by {
		count[i]++
	}
	if len(by) != burstCalls || len(count) < 2 {
		t.Errorf("%d calls at once to one number were decided by nodes %v; want each once, two by its node and the others by the next", burstCalls, by)
	}
	if !strings.Contains(d.log.String(), "(rate-limited): next one") {
		t.Errorf("the dispatcher did not move a rate-limited call on:\n%s", d.log.String())
	}
}

// startNATSCluster runs three clustered NATS servers with JetStream (sync
// always) in the test's process, one on each of nodeIPs, and returns their
// client URLs.
func startNATSCluster(t *testing.T) []string {
	t.Helper()
	var clients, routes []string
	for _, ip := range nodeIPs {
		clients = append(clients, fmt.Sprintf("%s:%d", ip, freePort(t, ip)))
		routes = append(routes, fmt.Sprintf("nats://%s:%d", ip, freePort(t, ip)))
	}
	var urls []string
	for i := range nodeIPs {
		s, err := cluster.Embed(fmt.Sprintf("nats-%c", 'a'+i), config.EmbeddedNATS{
			Listen:       clients[i],
			RoutesListen: strings.TrimPrefix(routes[i], "nats://"),
			Routes:       routes,
			StoreDir:     t.TempDir(),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		urls = append(urls, `"nats://`+clients[i]+`"`)
	}
	return urls
}

// dispatcher is a running Kamailio with configs/kamailio-dispatcher.cfg.
type dispatcher struct {
	port int    // on dialerIP
	ctl  string // its ctl socket, for kamcmd
	cmd  *exec.Cmd
	log  *syncBuffer
}

// startDispatcher runs Kamailio on dialerIP with the nodes as its dispatcher
// list, probing them each second and trying the next after 1 s of silence.
// The gatekeepers take its calls as the dialers' (dialerIP).
func startDispatcher(t *testing.T, nodes []*gatekeeper) *dispatcher {
	t.Helper()
	dir := t.TempDir()
	var list strings.Builder
	for i, g := range nodes {
		fmt.Fprintf(&list, "1 sip:%s:%d 8 0 name=gk-%c\n", g.sipIP, g.port, 'a'+i)
	}
	writeFile(t, filepath.Join(dir, "dispatcher.list"), list.String())
	d := &dispatcher{port: freePort(t, dialerIP), ctl: "unix:" + filepath.Join(dir, "ctl"), log: &syncBuffer{}}
	d.cmd = exec.Command("kamailio", "-f", filepath.Join(repoRoot, "configs", "kamailio-dispatcher.cfg"),
		"-DD", "-E", "-m", "64", "-M", "8", "-Y", dir, "-P", filepath.Join(dir, "kamailio.pid"),
		"-A", fmt.Sprintf("LISTEN=udp:%s:%d", dialerIP, d.port),
		"-A", fmt.Sprintf(`DIALERS="%s/32"`, dialerIP),
		"-A", fmt.Sprintf(`DS_LIST="%s"`, filepath.Join(dir, "dispatcher.list")),
		"-A", "DS_PING_INTERVAL=1", "-A", "FR_TIMER=1000", "-A", "WORKERS=2",
		"-A", fmt.Sprintf(`CTL="%s"`, d.ctl))
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	// Its own process group: its workers go with it when the test ends.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	return d
}

var dispatcherTarget = regexp.MustCompile(`URI: sip:([0-9.]+):(\d+)\s+FLAGS: (\S+)`)

// flags asks Kamailio (kamcmd dispatcher.list) for each destination's
// state, by address: AP is active and probed, IP inactive and probed.
func (d *dispatcher) flags() (map[string]string, error) {
	out, err := exec.Command("kamcmd", "-s", d.ctl, "dispatcher.list").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("kamcmd dispatcher.list: %v: %s", err, out)
	}
	flags := map[string]string{}
	for _, m := range dispatcherTarget.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]+":"+m[2]] = m[3]
	}
	return flags, nil
}

// waitFlags waits up to 15 s until every node's flags in the dispatcher start with prefix.
func (d *dispatcher) waitFlags(t *testing.T, nodes []*gatekeeper, prefix string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		flags, err := d.flags()
		done := err == nil
		for _, g := range nodes {
			done = done && strings.HasPrefix(flags[fmt.Sprintf("%s:%d", g.sipIP, g.port)], prefix)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dispatcher's gatekeepers are not all %s: %v %v\n%s", prefix, flags, err, d.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// forwardedInvite is one call the carrier got: its Call-ID and the address
// of the gatekeeper that sent it (its top Via).
type forwardedInvite struct{ callID, via string }

var (
	callIDHeader = regexp.MustCompile(`(?mi)^(?:Call-ID|i):\s*(\S+)`)
	topVia       = regexp.MustCompile(`(?mi)^(?:Via|v):\s*SIP/2\.0/\w+\s+([0-9.]+):`)
)

// carrierInvites lists, from a carrier's SIPp trace, the calls to number it
// got, one for each Call-ID (a retransmitted INVITE counts once).
func carrierInvites(trace, number string) []forwardedInvite {
	var calls []forwardedInvite
	seen := map[string]bool{}
	for _, b := range strings.Split(trace, "message received")[1:] {
		_, msg, _ := strings.Cut(b, "\n")
		msg = strings.TrimLeft(msg, "\r\n")
		if !strings.HasPrefix(msg, "INVITE sip:"+number+"@") {
			continue
		}
		id, via := callIDHeader.FindStringSubmatch(msg), topVia.FindStringSubmatch(msg)
		if id == nil || via == nil || seen[id[1]] {
			continue
		}
		seen[id[1]] = true
		calls = append(calls, forwardedInvite{id[1], via[1]})
	}
	return calls
}

// nodeOf is the index of the node at ip.
func nodeOf(t *testing.T, nodes []*gatekeeper, ip string) int {
	t.Helper()
	for i, g := range nodes {
		if g.sipIP == ip {
			return i
		}
	}
	t.Fatalf("no node at %s", ip)
	return 0
}

// options sends an OPTIONS from dialerIP to the gatekeeper at ip:port and
// returns the answer's status line ("" for none within 200 ms).
func options(ip string, port int) string {
	conn, err := net.ListenPacket("udp", dialerIP+":0")
	if err != nil {
		return ""
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	msg := strings.ReplaceAll(fmt.Sprintf(`OPTIONS sip:%[1]s:%[2]d SIP/2.0
Via: SIP/2.0/UDP %[3]s;branch=z9hG4bK-probe-%[4]d;rport
From: <sip:probe@%[3]s>;tag=probe
To: <sip:%[1]s:%[2]d>
Call-ID: probe-%[4]d@%[3]s
CSeq: 1 OPTIONS
Max-Forwards: 70
Content-Length: 0

`, ip, port, local, time.Now().UnixNano()), "\n", "\r\n")
	if _, err := conn.WriteTo([]byte(msg), &net.UDPAddr{IP: net.ParseIP(ip), Port: port}); err != nil {
		return ""
	}
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 4096)
	n, _, err := conn.ReadFrom(buf)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	return line
}
