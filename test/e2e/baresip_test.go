package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// baresip is Debian's baresip softphone (package baresip-core) run headless:
// on each call it speaks a WAV file through its aufile source, as PCMU. It
// has no sound card here: what it hears goes to an aubridge device that
// nothing reads.
type baresip struct {
	log  *syncBuffer
	done chan error
}

// baresipRTPPorts are the ports baresip's own RTP may take; the tests'
// relays use others.
const baresipRTPPorts = "44000-44199"

// baresipModules is where Debian's baresip keeps its modules.
const baresipModules = "/usr/lib/baresip/modules"

// startBaresip runs baresip with a config folder of its own, SIP on
// host:port, speaking audio (a WAV file of 16-bit mono PCM at 8 kHz) from
// each call's start; account is its accounts line, modules more modules to
// load, args more arguments. It is bounded to 40 s and killed when the test
// ends.
func startBaresip(t *testing.T, host string, port int, audio, account string, modules []string, args ...string) *baresip {
	t.Helper()
	if _, err := exec.LookPath("baresip"); err != nil {
		t.Fatal("baresip is not installed (Debian package baresip-core): apt-get install -y baresip-core")
	}
	if _, err := os.Stat(filepath.Join(baresipModules, "aufile.so")); err != nil {
		t.Fatalf("baresip's modules are not where Debian puts them: %v", err)
	}
	dir := t.TempDir()
	config := fmt.Sprintf(`poll_method epoll
sip_listen %[1]s:%[2]d
sip_transports udp
net_interface %[1]s
rtp_ports %[3]s
audio_source aufile,%[4]s
audio_player aubridge,nowhere
audio_alert aubridge,nowhere
module_path %[5]s
module g711.so
module aufile.so
module aubridge.so
module_app account.so
`, host, port, baresipRTPPorts, audio, baresipModules)
	for _, m := range modules {
		config += "module_app " + m + "\n"
	}
	writeFile(t, filepath.Join(dir, "config"), config)
	writeFile(t, filepath.Join(dir, "accounts"), account+"\n")
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	b := &baresip{log: &syncBuffer{}, done: make(chan error, 1)}
	cmd := exec.CommandContext(ctx, "baresip", append([]string{"-f", dir, "-v", "-s", "-t", "35"}, args...)...)
	cmd.Stdout, cmd.Stderr = b.log, b.log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { b.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-b.done
		if t.Failed() {
			t.Logf("baresip's log:\n%s", b.log.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.log.String(), "baresip is ready.") {
		select {
		case err := <-b.done:
			t.Fatalf("baresip ended before it was ready (%v):\n%s", err, b.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip was not ready after 10 s:\n%s", b.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return b
}

// baresipCarrier starts baresip as the gatekeeper's carrier, on its carrier
// address: it answers every call at once (no registration, PCMU only, what
// the relay and detection read) and the called person greets (answering);
// greetingEnd is where the greeting ends after the answer.
func (g *gatekeeper) baresipCarrier() (phone *baresip, greetingEnd time.Duration) {
	g.t.Helper()
	greeting, greetingEnd := answering(g.t)
	greets := filepath.Join(g.t.TempDir(), "greeting.wav")
	writeWAV(g.t, greets, greeting)
	account := fmt.Sprintf("<sip:%s@%s>;regint=0;answermode=auto;audio_codecs=PCMU", cleanNumber, g.carrierHost)
	return startBaresip(g.t, g.carrierHost, g.carrierPort, greets, account, nil), greetingEnd
}

// baresipDial starts baresip as a phone of the predictive dialer (on
// dialerIP) calling called through the gatekeeper: it speaks audio from the
// answer on and hangs up when audio ends (its menu module ends a call whose
// source ends).
func (g *gatekeeper) baresipDial(audio, called string) *baresip {
	g.t.Helper()
	account := fmt.Sprintf("<sip:2025550100@%s>;regint=0;audio_codecs=PCMU", dialerIP)
	dial := fmt.Sprintf("/dial sip:%s@%s:%d", called, carrierIP, g.port)
	return startBaresip(g.t, dialerIP, freePort(g.t, dialerIP), audio, account, []string{"menu.so"}, "-e", dial)
}

// rtpFrom is the port on carrierIP that baresip's call got its RTP from, 0
// when it got none.
func (b *baresip) rtpFrom() int {
	var port int
	if _, rest, found := strings.Cut(b.log.String(), "incoming rtp for 'audio' established, receiving from "+carrierIP+":"); found {
		fmt.Sscan(rest, &port)
	}
	return port
}

// calledThroughUs checks that the carrier's baresip was called from the
// gatekeeper's SIP address.
func (g *gatekeeper) calledThroughUs(carrier *baresip) {
	g.t.Helper()
	if via := fmt.Sprintf("via UDP %s:%d --> %s:%d", carrierIP, g.port, g.carrierHost, g.carrierPort); !strings.Contains(carrier.log.String(), via) {
		g.t.Errorf("the carrier's baresip was not called through the gatekeeper (want %q)", via)
	}
}

// checkConnected checks that the gatekeeper logged one outcome record, whose
// media says connected, ended by endedBy, with the greeting's end about
// greetingEnd after the answer and a gap of about shortGap.
func (g *gatekeeper) checkConnected(endedBy string, greetingEnd time.Duration) {
	t := g.t
	t.Helper()
	outcomes := g.outcomes()
	if len(outcomes) != 1 || outcomes[0].EndedBy != endedBy || outcomes[0].Media == nil || outcomes[0].Media.Verdict != "connected" {
		t.Errorf("the call's outcome records: %+v; want one ended by the %s whose media verdict is connected", outcomes, endedBy)
		return
	}
	checkGreeting(t, "baresip", outcomes[0], greetingEnd)
	checkGap(t, "baresip", outcomes[0].Media, shortGap)
}

// A real softphone behind the gatekeeper: a SIPp dialer calls through it to
// baresip, which answers and greets the caller; the dialer's agent speaks
// 0.8 s after the greeting. baresip's SIP comes and goes through the
// gatekeeper, its RTP through the relay both ways, and the call's outcome
// record says connected, with the greeting's end and the gap.
func TestSoftphoneAnswersThroughTheRelay(t *testing.T) {
	low := 43000
	g := anchoredGatekeeper(t, low, "")
	g.start()

	phone, greetingEnd := g.baresipCarrier()
	agent := filepath.Join(t.TempDir(), "agent.pcmu")
	writePCMU(t, agent, silence(greetingEnd+shortGap), fixture(t, "agent-john"))
	dialer := g.dial(dialerIP, playing(t, "uac_play.xml", agent), cleanNumber, "-set", "campaign", "spring-sale")
	dialer.mustPass()
	g.stop()

	log := phone.log.String()
	g.calledThroughUs(phone)
	ok := received(dialer.messages(), "SIP/2.0 200 ")
	answered := mediaPorts(ok)
	if !strings.Contains(ok, "Server: baresip") || !strings.Contains(ok, "Record-Route:") || len(answered) != 1 || answered[0] < low || answered[0] > low+99 {
		t.Errorf("the dialer's 200 is not baresip's through the gatekeeper with the relay's port (%d-%d):\n%s", low, low+99, ok)
	}
	if from := phone.rtpFrom(); from < low || from > low+99 {
		t.Errorf("baresip did not get its RTP from the relay's ports %d-%d:\n%s", low, low+99, log)
	}
	if !strings.Contains(log, "Call with sip:2025550100@") || !strings.Contains(log, "terminated") {
		t.Errorf("baresip did not see the dialer's BYE:\n%s", log)
	}
	// The media showed a person answering and an agent 0.8 s after their
	// greeting; the dialer hung up after 8 s.
	g.checkConnected("dialer", greetingEnd)
	// The dialer plays for about 6 s, baresip from its answer until the BYE 8 s later.
	g.relayedAtLeast(100, 200)
}

// Real softphones on both sides: baresip as a phone of the predictive
// dialer calls through the gatekeeper to baresip as the called person's
// phone, which greets; the agent speaks 0.8 s after the greeting and hangs
// up when done. The carrier's baresip is called from the gatekeeper with a
// relay port in the SDP, each baresip gets its RTP from the relay, and the
// call's outcome record says connected, ended by the dialer.
func TestSoftphoneCallsSoftphoneThroughTheRelay(t *testing.T) {
	low := 43300
	g := anchoredGatekeeper(t, low, "")
	g.start()

	callee, greetingEnd := g.baresipCarrier()
	agent := filepath.Join(t.TempDir(), "agent.wav")
	writeWAV(t, agent, slices.Concat(silence(greetingEnd+shortGap), fixture(t, "agent-john")))
	dialer := g.baresipDial(agent, cleanNumber)
	// The call lasts about 6 s.
	waitForWithin(t, "the call's outcome record", 25*time.Second, func() bool { return len(g.auditLog("outcome")) == 1 })
	g.stop()

	for name, b := range map[string]*baresip{"the dialer's baresip": dialer, "the carrier's baresip": callee} {
		if from := b.rtpFrom(); from < low || from > low+99 || !strings.Contains(b.log.String(), "terminated") {
			t.Errorf("%s did not get its RTP from the relay's ports %d-%d, or its call did not end:\n%s", name, low, low+99, b.log.String())
		}
	}
	g.calledThroughUs(callee)
	g.checkConnected("dialer", greetingEnd)
	// The dialer's baresip speaks for about 6 s and hangs up; the other until then.
	g.relayedAtLeast(250, 250)
}
