package sip

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/policy"
)

type rejectAll struct{ decided atomic.Int32 }

func (r *rejectAll) Decide(context.Context, policy.Call) policy.Decision {
	r.decided.Add(1)
	return policy.Decision{Action: policy.Reject, Rule: "internal-dnc", Status: 603, Reason: "Decline"}
}
func (*rejectAll) Forwarded(context.Context, policy.Call) error { return nil }

// A call Admit refuses gets 503 with Retry-After and the cause Admit gave
// (X-Gatekeeper-Unavailable), and is never decided.
func TestAdmitRefusesBeforeTheDecision(t *testing.T) {
	d := &rejectAll{}
	var asked atomic.Int32
	r := newRigWith(t, d, func(c *Config) {
		c.Admit = func(call policy.Call) Unavailable {
			asked.Add(1)
			switch call.CallID {
			case "refused":
				return UnavailableUnrecorded
			case "unproven":
				return UnavailableCluster
			}
			return ""
		}
	})
	send(t, r.dialer, r.proxyAddr(), invite("refused", "a1"))
	got := strings.Join(recv(r.dialer, 500*time.Millisecond), "\n")
	if !strings.Contains(got, "SIP/2.0 503 Service Unavailable") || !strings.Contains(got, "Retry-After: 5") {
		t.Fatalf("the dialer got:\n%s\nwant 503 with Retry-After", got)
	}
	if !strings.Contains(got, "X-Gatekeeper-Unavailable: unrecorded\r\n") {
		t.Errorf("the dialer got:\n%s\nwant X-Gatekeeper-Unavailable: unrecorded", got)
	}
	send(t, r.dialer, r.proxyAddr(), invite("unproven", "a3"))
	wantUnavailable(t, await503(t, r.dialer, "unproven", time.Second), UnavailableCluster, "5")
	r.mu.Lock()
	recorded := len(r.statuses)
	r.mu.Unlock()
	if asked.Load() != 2 || d.decided.Load() != 0 || recorded != 0 {
		t.Errorf("Admit asked %d times, %d decisions, %d recorded; want 2, 0, 0", asked.Load(), d.decided.Load(), recorded)
	}
	send(t, r.dialer, r.proxyAddr(), invite("admitted", "a2"))
	if got := strings.Join(recv(r.dialer, 500*time.Millisecond), "\n"); !strings.Contains(got, "SIP/2.0 603") {
		t.Fatalf("an admitted call got:\n%s", got)
	}
}

// A reject leaves only once the sink has returned (audit.sync: always
// waits there until the decision is on disk).
func TestRejectLeavesAfterTheSink(t *testing.T) {
	release := make(chan struct{})
	r := newRigWith(t, &rejectAll{}, func(*Config) {}, func(policy.Call, policy.Decision, int) { <-release })
	send(t, r.dialer, r.proxyAddr(), invite("held", "h1"))
	if got := strings.Join(recv(r.dialer, 300*time.Millisecond), "\n"); strings.Contains(got, "603") {
		t.Fatalf("the reject left before its decision was recorded:\n%s", got)
	}
	close(release)
	if got := strings.Join(recv(r.dialer, time.Second), "\n"); !strings.Contains(got, "SIP/2.0 603") {
		t.Fatalf("no reject once the sink returned:\n%s", got)
	}
}

// An OPTIONS to the gatekeeper gets the answer an INVITE would: 200 while
// Ready says yes, 503 with Retry-After while it says no and once draining.
func TestOptionsAnswersReadiness(t *testing.T) {
	var ready atomic.Bool
	r := newRigWith(t, &rejectAll{}, func(c *Config) { c.Ready = ready.Load })
	probe := func(n int) string {
		send(t, r.dialer, r.proxyAddr(), fmt.Sprintf("OPTIONS sip:127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKprobe%d\nMax-Forwards: 70\nFrom: <sip:probe@127.0.0.2>;tag=p\nTo: <sip:127.0.0.1>\nCall-ID: probe%d\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n", n, n))
		return strings.Join(recv(r.dialer, 300*time.Millisecond), "\n")
	}
	if got := probe(1); !strings.HasPrefix(got, "SIP/2.0 503 ") || !strings.Contains(got, "Retry-After: 5") {
		t.Fatalf("not ready: OPTIONS got %q, want 503 with Retry-After", got)
	}
	ready.Store(true)
	if got := probe(2); !strings.HasPrefix(got, "SIP/2.0 200 ") {
		t.Fatalf("ready: OPTIONS got %q, want 200", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.p.Drain(ctx)
	if got := probe(3); !strings.HasPrefix(got, "SIP/2.0 503 ") {
		t.Fatalf("draining: OPTIONS got %q, want 503", got)
	}
}
