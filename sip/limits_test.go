package sip

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestSourceLimiterAllowsOneSecondsWorthPerSource(t *testing.T) {
	l := newSourceLimiter(3)
	now := time.Unix(1000, 0)
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	for i := range 3 {
		if !l.allow(a, now) {
			t.Fatalf("INVITE %d of 3 within a second refused", i+1)
		}
	}
	if l.allow(a, now) {
		t.Error("a fourth INVITE within the same instant passed a limit of 3/s")
	}
	if !l.allow(b, now) {
		t.Error("another source was refused for the first one's flood")
	}
	if !l.allow(a, now.Add(400*time.Millisecond)) {
		t.Error("a token did not come back after 1/3 s")
	}
}

func TestSourceLimiterTableStaysBounded(t *testing.T) {
	l := newSourceLimiter(1)
	now := time.Unix(1000, 0)
	for i := range maxLimitedSources + 500 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.allow(ip, now) // each source has just spent its token: nothing is idle
	}
	if n := l.len(); n > maxLimitedSources {
		t.Errorf("%d sources kept, want at most %d", n, maxLimitedSources)
	}
	// Once the buckets have filled up again, a new source makes room by dropping them.
	l.allow(netip.MustParseAddr("192.0.2.1"), now.Add(2*time.Second))
	if n := l.len(); n != 1 {
		t.Errorf("%d sources kept after the idle ones were dropped, want 1", n)
	}
}

func TestNoLimiterAllowsAll(t *testing.T) {
	var l *sourceLimiter = newSourceLimiter(0)
	for range 10000 {
		if !l.allow(netip.MustParseAddr("10.0.0.1"), time.Now()) {
			t.Fatal("per_source 0 refused an INVITE")
		}
	}
}

func TestRateLimitedInvitesGet503WithRetryAfter(t *testing.T) {
	r := newRigWith(t, allowAll{}, func(c *Config) { c.Limits.PerSource = 2 })
	for i := range 4 {
		send(t, r.dialer, r.proxyAddr(), invite(fmt.Sprintf("rl-%d", i), fmt.Sprintf("rl%d", i)))
	}
	busy := map[string]string{} // Call-ID: the 503 (sent again until ACKed)
	for _, m := range recv(r.dialer, time.Second) {
		if strings.HasPrefix(m, "SIP/2.0 503") {
			busy[callIDOf(m)] = m
		}
	}
	if len(busy) != 2 {
		t.Fatalf("%d of 4 INVITEs at once got 503 under a limit of 2/s, want 2", len(busy))
	}
	for _, m := range busy {
		if !strings.Contains(m, "\r\nRetry-After: 1\r\n") {
			t.Errorf("503 without Retry-After:\n%s", m)
		}
		wantUnavailable(t, m, UnavailableRateLimited, "1")
	}
	if got := r.p.Stats().Refused[RateLimited]; got != 2 {
		t.Errorf("rate_limited counted %d, want 2", got)
	}
}

func TestInvitesBeyondInFlightGet503(t *testing.T) {
	r := newRigWith(t, allowAll{delay: 500 * time.Millisecond}, func(c *Config) { c.Limits.InFlight = 1 })
	send(t, r.dialer, r.proxyAddr(), invite("if-1", "if1"))
	time.Sleep(100 * time.Millisecond) // the first is with the policy now
	send(t, r.dialer, r.proxyAddr(), invite("if-2", "if2"))
	busy := recvCall(r.dialer, "if-2", 2*time.Second)
	if len(busy) == 0 || !strings.HasPrefix(busy[0], "SIP/2.0 503") || !strings.Contains(busy[0], "\r\nRetry-After: 1\r\n") {
		t.Fatalf("the INVITE beyond in_flight 1 got %q, want 503 with Retry-After", firstLines(busy))
	}
	wantUnavailable(t, busy[0], UnavailableOverloaded, "1")
	if got := r.p.Stats().Refused[Overload]; got != 1 {
		t.Errorf("overload counted %d, want 1", got)
	}
	if fwd := recvFirst(r.carrier, 2*time.Second); len(fwd) == 0 || !strings.Contains(fwd[0], "Call-ID: if-1") {
		t.Errorf("the first INVITE did not reach the carrier: %q", firstLines(fwd))
	}
}

func callIDOf(msg string) string {
	_, rest, _ := strings.Cut(msg, "\r\nCall-ID: ")
	id, _, _ := strings.Cut(rest, "\r\n")
	return id
}
