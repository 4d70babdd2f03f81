package e2e

import (
	"slices"
	"strings"
	"testing"
)

// SIPp's own carrier scenario (sipp -sn uas), with which call centers try a
// SIP setup, answers a call through the gatekeeper. It copies the INVITE's
// Vias into its answers with [last_Via:], the lines named Via alone, so the
// answers reach the dialer only if the gatekeeper relays the dialer's Via
// as a full Via line.
func TestSippsOwnCarrierScenarioAnswersThroughTheGatekeeper(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	carrier := g.builtinCarrier("uas", 1)
	dialer := g.dial(dialerIP, "uac.xml", cleanNumber)
	dialer.mustPass()
	carrier.mustPass()
	if got := dialer.received(); !slices.Contains(got, "SIP/2.0 180 Ringing") || !slices.Contains(got, "SIP/2.0 200 OK") {
		t.Errorf("the dialer got %q, want the carrier's 180 and 200", got)
	}
	trace := carrier.messages()
	if got := carrier.received(); !slices.ContainsFunc(got, prefix("ACK ")) || !slices.ContainsFunc(got, prefix("BYE ")) {
		t.Errorf("the carrier did not get the dialer's ACK and BYE: %q", got)
	}
	if vias := headerLines(messageOf(trace, "INVITE "), "Via:", "v:"); len(vias) != 2 || !strings.HasPrefix(vias[1], "Via:") {
		t.Errorf("the carrier's INVITE has Vias %q, want ours and the dialer's as Via lines\n%s", vias, trace)
	}
	// The answer keeps the dialer's Via: without one it is malformed (Via is
	// mandatory, RFC 3261 §20.42), and a dialer other than SIPp drops it.
	calls := dialer.messages()
	if got, sent := headerLines(messageOf(calls, "SIP/2.0 200 OK"), "Via:", "v:"), headerLines(messageOf(calls, "INVITE "), "Via:"); len(got) != 1 || len(sent) != 1 || got[0] != sent[0] {
		t.Errorf("the dialer's 200 has Vias %q, want its INVITE's %q\n%s", got, sent, calls)
	}
}

// A carrier's 486, over UDP and TCP, reaches the dialer, and the
// gatekeeper's ACK for it has one Via, the INVITE's top one (RFC 3261
// §17.1.1.3), though the INVITE had two.
func TestCarriers486IsAckedWithTheInvitesTopViaAlone(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			g := newGatekeeper(t)
			g.sipExtra = "  carrier_transport: " + transport + "\n"
			g.writeConfig()
			g.start()
			carrier := g.carrier("uas_reject.xml", 1, "-t", map[string]string{"udp": "u1", "tcp": "t1"}[transport])
			dialer := g.dial(dialerIP, "uac_reject.xml", cleanNumber, "-set", "expect", "486")
			dialer.mustPass()
			carrier.mustPass()
			trace := carrier.messages()
			ack, invite := messageOf(trace, "ACK "), messageOf(trace, "INVITE ")
			vias, sent := headerLines(ack, "Via:", "v:"), headerLines(invite, "Via:", "v:")
			if len(vias) != 1 || len(sent) != 2 || vias[0] != sent[0] || !strings.HasPrefix(sent[1], "Via:") {
				t.Errorf("the ACK for the 486 has Vias %q, want only the INVITE's top one of %q (both Via lines)\n%s", vias, sent, trace)
			}
		})
	}
}
