package sip

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// wantUnavailable fails the test unless msg is the gatekeeper's own 503 for
// cause: Retry-After retry and X-Gatekeeper-Unavailable naming cause, which
// a dispatcher in front fails the call over on.
func wantUnavailable(t *testing.T, msg string, cause Unavailable, retry string) {
	t.Helper()
	if !strings.HasPrefix(msg, "SIP/2.0 503 ") || !strings.Contains(msg, "\r\nRetry-After: "+retry+"\r\n") ||
		!strings.Contains(msg, "\r\nX-Gatekeeper-Unavailable: "+string(cause)+"\r\n") {
		t.Errorf("want 503 with Retry-After: %s and X-Gatekeeper-Unavailable: %s, got:\n%s", retry, cause, msg)
	}
}

// await503 returns the first 503 to call callID that c gets within d
// (passing over its 100 Trying and other calls' retransmitted answers).
func await503(t *testing.T, c net.PacketConn, callID string, d time.Duration) string {
	t.Helper()
	for _, m := range recv(c, d) {
		if strings.HasPrefix(m, "SIP/2.0 503 ") && callIDOf(m) == callID {
			return m
		}
	}
	t.Fatalf("no 503 to call %s arrived", callID)
	return ""
}

// A new INVITE while the proxy drains gets 503 naming the cause.
func TestDrainingInviteGetsUnavailable(t *testing.T) {
	r := newRig(t, allowAll{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.p.Drain(ctx)
	send(t, r.dialer, r.proxyAddr(), invite("drain-1", "dr1"))
	wantUnavailable(t, await503(t, r.dialer, "drain-1", time.Second), UnavailableDraining, "5")
}

// decideAs answers every call with one decision.
type decideAs policy.Decision

func (d decideAs) Decide(context.Context, policy.Call) policy.Decision { return policy.Decision(d) }
func (decideAs) Forwarded(context.Context, policy.Call) error          { return nil }

// A policy's 503 (here as the shipped abandonment-rate rule answers) names
// its rule and is no unavailability of the gatekeeper's: a dispatcher must
// not try another gatekeeper with it.
func TestPolicy503IsNotUnavailable(t *testing.T) {
	r := newRig(t, decideAs{Action: policy.Reject, Rule: "abandonment-rate", Status: 503, Reason: "Service Unavailable", RetryAfter: 300})
	send(t, r.dialer, r.proxyAddr(), invite("policy-503", "p1"))
	msg := await503(t, r.dialer, "policy-503", time.Second)
	if !strings.HasPrefix(msg, "SIP/2.0 503 ") || !strings.Contains(msg, "\r\nX-Gatekeeper-Rule: abandonment-rate\r\n") ||
		!strings.Contains(msg, "\r\nRetry-After: 300\r\n") {
		t.Fatalf("want the rule's 503 with X-Gatekeeper-Rule and Retry-After: 300, got:\n%s", msg)
	}
	if strings.Contains(strings.ToLower(msg), "x-gatekeeper-unavailable") {
		t.Errorf("a policy 503 carries X-Gatekeeper-Unavailable:\n%s", msg)
	}
}

// A carrier's 503 goes to the dialer without X-Gatekeeper-Unavailable, even
// when the carrier sent one (a gatekeeper behind this one): the header
// speaks only for the gatekeeper that sends it.
func TestRelayedCarrier503IsNotUnavailable(t *testing.T) {
	r := newRig(t, allowAll{})
	fwd := r.placeCall(t, invite("carrier-503", "c1"))
	send(t, r.carrier, r.proxyAddr(), answer(fwd, "503 Service Unavailable",
		"Retry-After: 60\nX-Gatekeeper-Unavailable: overloaded\nx-gatekeeper-unavailable: draining\n"))
	msg := await503(t, r.dialer, "carrier-503", 2*time.Second)
	if !strings.Contains(msg, "\r\nRetry-After: 60\r\n") {
		t.Fatalf("the carrier's 503 did not reach the dialer as it was:\n%s", msg)
	}
	if strings.Contains(strings.ToLower(msg), "x-gatekeeper-unavailable") {
		t.Errorf("the relayed carrier 503 carries X-Gatekeeper-Unavailable:\n%s", msg)
	}
}

// A call the policy refused because this node's registry failed (on_error)
// names the node's unavailability besides the rule: another node may decide it.
func TestRegistryFailure503IsUnavailable(t *testing.T) {
	r := newRig(t, decideAs{Action: policy.Reject, Rule: "registry-error", Status: 503, Reason: "Service Unavailable", RetryAfter: 30})
	send(t, r.dialer, r.proxyAddr(), invite("registry-503", "g1"))
	msg := await503(t, r.dialer, "registry-503", time.Second)
	wantUnavailable(t, msg, UnavailableRegistry, "30")
	if !strings.Contains(msg, "\r\nX-Gatekeeper-Rule: registry-error\r\n") {
		t.Errorf("the registry failure's 503 does not name its rule:\n%s", msg)
	}
}
