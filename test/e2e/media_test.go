package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// anchoredGatekeeper is a gatekeeper (not yet started) that anchors every
// call's media on carrierIP, ports low to low+99; more is more of the
// config's top-level sections.
func anchoredGatekeeper(t *testing.T, low int, more string) *gatekeeper {
	g := newGatekeeper(t)
	g.sections = fmt.Sprintf("media:\n  anchor: true\n  address: %s\n  ports: %d-%d\n", carrierIP, low, low+99) + more
	g.writeConfig()
	return g
}

// An anchored call between a SIPp dialer that plays a second of G.711 audio
// and a SIPp carrier that echoes it (-rtp_echo): each side is given the
// gatekeeper's media address and ports from media.ports, the audio goes
// through the relay both ways, and the BYE frees the call's ports.
func TestAnchoredCallRelaysRTP(t *testing.T) {
	low := 42000
	g := anchoredGatekeeper(t, low, "")
	g.start()

	// One second of PCMU, a 400 Hz square wave: 50 packets of 160 bytes.
	dir := t.TempDir()
	tone := make([]byte, 8000)
	for i := range tone {
		tone[i] = 0x9f
		if i/10%2 == 0 {
			tone[i] = 0x1f
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "tone.pcmu"), tone, 0o644); err != nil {
		t.Fatal(err)
	}
	uac := playing(t, "uac_rtp.xml", filepath.Join(dir, "tone.pcmu"))

	echo := freePort(t, carrierIP)
	carrier := g.carrier("uas.xml", 1, "-rtp_echo", "-mp", strconv.Itoa(echo))
	dialer := g.dial(dialerIP, uac, cleanNumber)
	dialer.mustPass()
	carrier.mustPass()

	inRange := func(p int) bool { return p >= low && p <= low+99 }
	offered := mediaPorts(received(carrier.messages(), "INVITE "))
	answered := mediaPorts(received(dialer.messages(), "SIP/2.0 200 OK"))
	if len(offered) != 1 || !inRange(offered[0]) || !strings.Contains(received(carrier.messages(), "INVITE "), "c=IN IP4 "+carrierIP) {
		t.Fatalf("the carrier was offered media at ports %v, want one of the gatekeeper's %d-%d:\n%s", offered, low, low+99, carrier.messages())
	}
	if len(answered) != 1 || !inRange(answered[0]) || answered[0] == offered[0] || answered[0] == echo {
		t.Fatalf("the dialer was answered with media at ports %v, want another of the gatekeeper's %d-%d:\n%s", answered, low, low+99, dialer.messages())
	}

	g.stop()
	t.Logf("offered %v, answered %v", offered, answered)
	// SIPp sends the second of audio in 50 packets; loopback may lose none.
	g.relayedAtLeast(50, 45)
}

var sessionEnded = regexp.MustCompile(`media session ended.*why=released.*packets_from_dialer=(\d+) packets_from_carrier=(\d+)`)

// relayed is how many RTP and RTCP packets the relay passed from each side
// in the one call the gatekeeper's log shows released.
func relayed(t *testing.T, log string) (fromDialer, fromCarrier int) {
	t.Helper()
	ended := sessionEnded.FindAllStringSubmatch(log, -1)
	if len(ended) != 1 {
		t.Fatalf("the relay logged %d released sessions, want 1:\n%s", len(ended), log)
	}
	fromDialer, _ = strconv.Atoi(ended[0][1])
	fromCarrier, _ = strconv.Atoi(ended[0][2])
	return fromDialer, fromCarrier
}

// relayedAtLeast checks that the relay passed at least fromDialer packets
// from the dialer and fromCarrier from the carrier in the gatekeeper's one
// call.
func (g *gatekeeper) relayedAtLeast(fromDialer, fromCarrier int) {
	g.t.Helper()
	d, c := relayed(g.t, g.log.String())
	g.t.Logf("the relay passed %d packets from the dialer, %d from the carrier", d, c)
	if d < fromDialer || c < fromCarrier {
		g.t.Errorf("the relay passed %d packets from the dialer and %d from the carrier, want at least %d and %d:\n%s", d, c, fromDialer, fromCarrier, g.log.String())
	}
}

// received is the first message in a SIPp trace that SIPp received and
// whose start line begins with start.
func received(trace, start string) string {
	for _, b := range strings.Split(trace, "message received")[1:] {
		_, msg, _ := strings.Cut(b, "\n")
		msg = strings.TrimLeft(msg, "\r\n")
		if strings.HasPrefix(msg, start) {
			end := strings.Index(msg, "-----------------------------------------------")
			if end < 0 {
				end = len(msg)
			}
			return msg[:end]
		}
	}
	return ""
}

var mLine = regexp.MustCompile(`(?m)^m=audio (\d+) `)

// mediaPorts lists the ports of a message's m=audio lines.
func mediaPorts(msg string) []int {
	var ports []int
	for _, m := range mLine.FindAllStringSubmatch(msg, -1) {
		p, _ := strconv.Atoi(m[1])
		ports = append(ports, p)
	}
	return ports
}
