package sip

import "time"

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
