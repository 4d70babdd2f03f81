package sip

import (
	"time"

	"github.com/emiago/sipgo/sip"
)

// timerC is a forwarded INVITE's Timer C (RFC 3261 §16.6 step 11): set
// when the INVITE leaves, set again by every provisional answer from 101 to
// 199 (§16.7 step 2; a 100 is hop by hop and says nothing of the callee),
// and, when it runs out, a CANCEL for a ringing INVITE, or the end of one
// that has had no provisional answer (§16.8). Its owner holds its lock
// while it calls any method.
type timerC struct {
	t        *time.Timer
	deadline time.Time // when t runs out
}

// startTimerC starts a Timer C of d that calls f when it runs out.
func startTimerC(d time.Duration, f func()) timerC {
	// The deadline is set before the timer's own, so that f never finds
	// itself early (see early).
	deadline := time.Now().Add(d)
	return timerC{t: time.AfterFunc(d, f), deadline: deadline}
}

// reset sets the timer to run out in d.
func (c *timerC) reset(d time.Duration) {
	c.deadline = time.Now().Add(d)
	c.t.Reset(d)
}

// resetFor sets the timer to run out in d if status is a provisional
// answer that starts it again (101-199).
func (c *timerC) resetFor(status int, d time.Duration) {
	if status > 100 && status < 200 {
		c.reset(d)
	}
}

// early says that f runs for a time the timer was set before it was set
// again: f then does nothing, the timer runs out again later.
func (c *timerC) early() bool { return time.Now().Before(c.deadline) }

func (c *timerC) stop() { c.t.Stop() }

// inviteProgress is what a relay of an INVITE, a new call's (inviteRelay)
// or a re-INVITE (inDialogRelay), keeps of it on the other side: Timer C,
// the request as that side got it (for its CANCEL), whether it rang (any
// provisional answer, RFC 3261 §9.1), whether its sender cancelled it
// (before it rang: cancelPending, the CANCEL waits for a provisional
// answer), and whether Timer C ran out on it ringing (timedOut: that side
// got a CANCEL). Its relay holds its lock while it calls any method.
type inviteProgress struct {
	timerC                                      timerC
	fwd                                         *sip.Request
	ringing, cancelled, cancelPending, timedOut bool
}

// provisional takes a provisional answer of status from the other side: a
// CANCEL that waited for one leaves now; else 101-199 start Timer C again.
func (g *inviteProgress) provisional(p *Proxy, status int) {
	g.ringing = true
	switch {
	case g.cancelPending:
		g.cancelPending = false
		go p.sendCancel(g.fwd)
		g.timerC.reset(cancelWait)
	case !g.cancelled && !g.timedOut:
		g.timerC.resetFor(status, p.cfg.TimerC)
	}
}

// cancelDownstream takes the sender's CANCEL: the other side gets one now
// if it rang and has none yet, else at its first provisional answer, and
// its final answer is waited for cancelWait more.
func (g *inviteProgress) cancelDownstream(p *Proxy) {
	g.cancelled = true
	g.timerC.reset(cancelWait)
	switch {
	case g.timedOut: // it has its CANCEL
	case g.ringing:
		go p.sendCancel(g.fwd)
	default:
		g.cancelPending = true
	}
}

// cancelRinging is Timer C running out (§16.8) on an INVITE that rang and
// was not cancelled yet: it sends the other side a CANCEL and waits
// cancelWait more for its final answer. It reports whether it did; if not,
// the relay ends.
func (g *inviteProgress) cancelRinging(p *Proxy) bool {
	if !g.ringing || g.cancelled || g.timedOut {
		return false
	}
	g.timedOut = true
	go p.sendCancel(g.fwd)
	g.timerC.reset(cancelWait)
	return true
}
