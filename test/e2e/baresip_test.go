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

// baresip is Debian's baresip softphone (package baresip) run headless as
// the called person's phone: it answers every call at once and speaks a WAV
// file through its aufile source, as PCMU. It has no sound card here: what
// it hears goes to an aubridge device that nothing reads.
type baresip struct {
	log  *syncBuffer
	done chan error
}

// baresipRTPPorts are the ports baresip's own RTP may take; the tests'
// relays use others.
const baresipRTPPorts = "44000-44199"

// baresipModules is where Debian's baresip keeps its modules.
const baresipModules = "/usr/lib/baresip/modules"

// baresipCarrier starts baresip as the gatekeeper's carrier, on its carrier
// address, speaking greeting (a WAV file of 16-bit mono PCM at 8 kHz) from
// each answer on. It is bounded to 40 s and killed when the test ends.
func (g *gatekeeper) baresipCarrier(greeting string) *baresip {
	t := g.t
	t.Helper()
	if _, err := exec.LookPath("baresip"); err != nil {
		t.Fatal("baresip is not installed (Debian package baresip): apt-get install -y baresip")
	}
	if _, err := os.Stat(filepath.Join(baresipModules, "aufile.so")); err != nil {
		t.Fatalf("baresip's modules are not where Debian puts them: %v", err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "config"), fmt.Sprintf(`poll_method epoll
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
`, g.carrierHost, g.carrierPort, baresipRTPPorts, greeting, baresipModules))
	// No registration; answer at once; PCMU only, what the relay and
	// detection read.
	writeFile(t, filepath.Join(dir, "accounts"), fmt.Sprintf("<sip:%s@%s>;regint=0;answermode=auto;audio_codecs=PCMU\n", cleanNumber, g.carrierHost))
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	b := &baresip{log: &syncBuffer{}, done: make(chan error, 1)}
	cmd := exec.CommandContext(ctx, "baresip", "-f", dir, "-v", "-s", "-t", "35")
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

// A real softphone behind the gatekeeper: a SIPp dialer calls through it to
// baresip, which answers and greets the caller; the dialer's agent speaks
// 0.8 s after the greeting. baresip's SIP comes and goes through the
// gatekeeper, its RTP through the relay both ways, and the call's outcome
// record says connected, with the greeting's end and the gap.
func TestSoftphoneAnswersThroughTheRelay(t *testing.T) {
	low := 43000
	g := anchoredGatekeeper(t, low, "")
	g.start()

	dir := t.TempDir()
	greeting := fixture(t, "greeting-whos")
	greetingEnd := greetingLead + greeting.duration()
	greets := filepath.Join(dir, "greeting.wav")
	writeWAV(t, greets, slices.Concat(silence(greetingLead), greeting, silence(8*time.Second)))
	phone := g.baresipCarrier(greets)

	agent := filepath.Join(dir, "agent.pcmu")
	writePCMU(t, agent, silence(greetingEnd+shortGap), fixture(t, "agent-john"))
	dialer := g.dial(dialerIP, playing(t, "uac_play.xml", agent), cleanNumber, "-set", "campaign", "spring-sale")
	dialer.mustPass()
	g.stop()

	log := phone.log.String()
	if via := fmt.Sprintf("via UDP %s:%d --> %s:%d", carrierIP, g.port, g.carrierHost, g.carrierPort); !strings.Contains(log, via) {
		t.Errorf("baresip was not called through the gatekeeper (want %q):\n%s", via, log)
	}
	ok := received(dialer.messages(), "SIP/2.0 200 ")
	answered := mediaPorts(ok)
	if !strings.Contains(ok, "Server: baresip") || !strings.Contains(ok, "Record-Route:") || len(answered) != 1 || answered[0] < low || answered[0] > low+99 {
		t.Errorf("the dialer's 200 is not baresip's through the gatekeeper with the relay's port (%d-%d):\n%s", low, low+99, ok)
	}
	var from int
	if _, rest, found := strings.Cut(log, "incoming rtp for 'audio' established, receiving from "+carrierIP+":"); found {
		fmt.Sscan(rest, &from)
	}
	if from < low || from > low+99 {
		t.Errorf("baresip did not get its RTP from the relay's ports %d-%d:\n%s", low, low+99, log)
	}
	if !strings.Contains(log, "Call with sip:2025550100@") || !strings.Contains(log, "terminated") {
		t.Errorf("baresip did not see the dialer's BYE:\n%s", log)
	}
	// The media showed a person answering and an agent 0.8 s after their greeting.
	if outcomes := g.outcomes(); len(outcomes) != 1 || outcomes[0].Media == nil || outcomes[0].Media.Verdict != "connected" {
		t.Errorf("the call's outcome records: %+v; want one whose media verdict is connected", outcomes)
	} else {
		checkGreeting(t, "baresip", outcomes[0], greetingEnd)
		checkGap(t, "baresip", outcomes[0].Media, shortGap)
	}
	// The dialer plays for about 6 s, baresip from its answer until the BYE 8 s later.
	fromDialer, fromCarrier := relayed(t, g.log.String())
	t.Logf("relayed %d packets from the dialer, %d from baresip", fromDialer, fromCarrier)
	if fromDialer < 100 || fromCarrier < 200 {
		t.Errorf("the relay passed %d packets from the dialer and %d from baresip, want 100 and 200 or more:\n%s", fromDialer, fromCarrier, g.log.String())
	}
}
