package sip

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"golang.org/x/time/rate"
)

// Limits bound what the dialers may ask of the proxy, so that a flood from
// one of them is answered 503 (RFC 3261 §21.5.4, with Retry-After) instead of
// slowing every call down. They are checked before the policy.
type Limits struct {
	// PerSource is how many new INVITEs per second one source IP address may
	// send (a token bucket holding one second's worth); 0 means no limit.
	PerSource float64
	// InFlight is how many new INVITE transactions may be in progress at
	// once, ringing calls included; 0 means no limit.
	InFlight int
}

// maxLimitedSources bounds the rate limiter's table: a flood from many
// addresses costs at most this many entries.
const maxLimitedSources = 4096

// sourceLimiter is a token bucket per source IP address (golang.org/x/time/rate)
// in a table of at most maxLimitedSources entries.
type sourceLimiter struct {
	rate rate.Limit
	mu   sync.Mutex
	byIP map[netip.Addr]*rate.Limiter
}

func newSourceLimiter(perSecond float64) *sourceLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &sourceLimiter{rate: rate.Limit(perSecond), byIP: map[netip.Addr]*rate.Limiter{}}
}

// burst is one second's worth of tokens, at least one.
func (l *sourceLimiter) burst() int { return max(1, int(l.rate)) }

// allow takes a token from ip's bucket and reports whether there was one.
// A nil limiter allows everything.
func (l *sourceLimiter) allow(ip netip.Addr, now time.Time) bool {
	if l == nil {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.byIP[ip]
	if !ok {
		if len(l.byIP) >= maxLimitedSources {
			l.evict(now)
		}
		lim = rate.NewLimiter(l.rate, l.burst())
		l.byIP[ip] = lim
	}
	return lim.AllowN(now, 1)
}

// evict makes room in a full table: it drops the sources whose bucket has
// filled up again (a new bucket is the same), else any one entry.
func (l *sourceLimiter) evict(now time.Time) {
	for ip, lim := range l.byIP {
		if lim.TokensAt(now) >= float64(l.burst()) {
			delete(l.byIP, ip)
		}
	}
	if len(l.byIP) < maxLimitedSources {
		return
	}
	for ip := range l.byIP {
		delete(l.byIP, ip)
		return
	}
}

// len is the number of sources the table holds.
func (l *sourceLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byIP)
}

// throttle answers a new INVITE from a dialer's source beyond its rate
// (Limits.PerSource) with a stateless 503 (unavailableResponse), written through
// answer, before sipgo sees it: a flood costs a parse and an answer, no
// transaction and no goroutine. It reports whether it took the message. A
// retransmission of an INVITE in progress is not counted again; in-dialog
// requests and the carrier's are never limited.
func (p *Proxy) throttle(msg []byte, from net.Addr, answer func([]byte) error) bool {
	if p.limiter == nil || !bytes.HasPrefix(msg, []byte("INVITE ")) {
		return false
	}
	ip := netIP(from)
	if _, ok := p.dialerOf(ip); !ok {
		return false
	}
	parsed, err := p.parser.ParseSIP(msg)
	if err != nil {
		return false
	}
	req, ok := parsed.(*sip.Request)
	if !ok || validate(req) != nil || req.To().Params.Has("tag") {
		return false
	}
	if _, inProgress := p.pending.get(cancelKey(req)); inProgress || p.limiter.allow(ip, time.Now()) {
		return false
	}
	p.refused.add(RateLimited, from.String())
	answer([]byte(unavailableResponse(req, UnavailableRateLimited).String()))
	return true
}
