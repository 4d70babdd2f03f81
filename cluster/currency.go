package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DefaultStaleness is how long a proof that this node's copy is current
// holds when Options.Staleness is not set: longer than JetStream takes to
// elect a new leader when the server leading a bucket or stream dies (its
// Raft waits 4 to 9 s before an election), so that the loss of one server
// of three does not stop calls, and short enough that a node cut off from
// the cluster stops deciding automated calls on a stale copy within seconds
// rather than the days the rules allow for honouring a request.
const DefaultStaleness = 15 * time.Second

// probeEvery is how often the node asks the cluster for the buckets' last
// revisions; probeWait bounds each ask.
const (
	probeEvery = time.Second
	probeWait  = 2 * time.Second
)

// Health is what this node knows of its own copy of the shared state.
type Health struct {
	// Connected tells whether the node is connected to a NATS server now.
	Connected bool
	// ProvenAt is the last moment at which this node had applied every
	// change of both buckets the cluster had acknowledged, and no cap
	// reservation had failed since; zero before the first proof.
	ProvenAt time.Time
	// Current tells whether ProvenAt is within the staleness and the node
	// keeps applying changes (Node.Ready).
	Current bool
	// Err is why the last proof failed; nil after a good one.
	Err error
}

// currency keeps how recently this node proved its copy current. Each
// bucket is proven at a moment t when the node had applied every revision
// the bucket's stream held at t: at the end of a watch's first delivery
// (the nil marker, t being when the watch started), or when a probe made at
// t read the stream's last sequence and the watcher had applied it. A cap
// reservation that fails unproves the node until the next proof after it.
type currency struct {
	staleness time.Duration
	log       *slog.Logger

	mu        sync.Mutex
	provenAt  map[string]time.Time // bucket -> its last proof
	pending   probe                // a probe whose revisions the watcher had not yet applied
	capFailed time.Time
	err       error
	lost      bool // the last transition logged was a loss
}

// probe is a moment and the buckets' last sequences then.
type probe struct {
	at   time.Time
	last map[string]uint64
}

func newCurrency(staleness time.Duration, log *slog.Logger) *currency {
	return &currency{staleness: staleness, log: log, provenAt: map[string]time.Time{}}
}

// prove records that bucket was current at t.
func (c *currency) prove(bucket string, t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.provenAt[bucket]) {
		c.provenAt[bucket] = t
	}
}

// probed records a probe's answer: the buckets whose last sequence the
// watcher had applied (applied) are proven at p.at; the others are kept to
// be checked against the next probe's applied revisions.
func (c *currency) probed(p probe, applied map[string]uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = nil
	for _, q := range []probe{c.pending, p} {
		for bucket, last := range q.last {
			if applied[bucket] >= last && q.at.After(c.provenAt[bucket]) {
				c.provenAt[bucket] = q.at
			}
		}
	}
	c.pending = p
}

// failed records why a probe or a reservation failed; a failed reservation
// unproves the node until the next proof.
func (c *currency) failed(err error, reservation bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
	if reservation {
		c.capFailed = time.Now()
	}
}

// provenLocked is the moment every bucket was last proven current at, zero
// when one never was or a reservation failed since.
func (c *currency) provenLocked(buckets int) time.Time {
	var oldest time.Time
	if len(c.provenAt) < buckets {
		return oldest
	}
	for _, t := range c.provenAt {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	if !c.capFailed.Before(oldest) {
		return time.Time{}
	}
	return oldest
}

// proven reports whether the node proved its copy current within the staleness.
func (c *currency) proven(buckets int, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := c.provenLocked(buckets)
	return !at.IsZero() && now.Sub(at) <= c.staleness
}

// health fills in what the currency knows.
func (c *currency) health(buckets int, now time.Time, h *Health) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h.ProvenAt, h.Err = c.provenLocked(buckets), c.err
	h.Current = !h.ProvenAt.IsZero() && now.Sub(h.ProvenAt) <= c.staleness
}

// transition logs once when the node loses its proof and once when it
// proves its copy again, never per call.
func (c *currency) transition(h Health) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !h.Current && !c.lost:
		c.lost = true
		c.log.Error("cannot prove that this node's opt-outs, consents and caps are current: the cluster has not answered within the staleness",
			"last_proven", h.ProvenAt, "staleness", c.staleness, "connected", h.Connected, "error", h.Err)
	case h.Current && c.lost:
		c.lost = false
		c.log.Info("this node's opt-outs, consents and caps are proven current again", "proven_at", h.ProvenAt)
	}
}

// watchCurrency probes the cluster and logs the transitions of the node's
// health; every calls it every probeEvery.
func (n *Node) watchCurrency(ctx context.Context) {
	n.probe(ctx)
	if n.Ready() {
		// A node still catching up is not ready anyway, and said so once.
		n.cur.transition(n.Health())
	}
}

// every calls f(ctx) every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func(context.Context)) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		f(ctx)
	}
}

// probe asks the cluster for the buckets' last sequences. Only a bucket's
// leader proves them: it holds every change the cluster acknowledged. A
// replicated bucket's follower left without a leader (quorum lost) answers
// the same request from its own copy, with no leader named, and may lack
// the last acknowledged changes: that answer proves nothing.
func (n *Node) probe(ctx context.Context) {
	p := probe{at: time.Now(), last: map[string]uint64{}}
	ask, cancel := context.WithTimeout(ctx, probeWait)
	defer cancel()
	for _, bucket := range []string{optOutBucket, consentBucket} {
		s, err := n.js.Stream(ask, "KV_"+bucket)
		if err == nil {
			if c := s.CachedInfo().Cluster; c != nil && c.Leader == "" {
				err = ErrNoLeader
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				n.cur.failed(fmt.Errorf("bucket %s: %w", bucket, err), false)
			}
			return
		}
		p.last[bucket] = s.CachedInfo().State.LastSeq
	}
	n.cur.probed(p, n.watch.applied())
}

// Health says whether this node is connected and when it last proved its
// copy of the opt-outs, consents and caps current.
func (n *Node) Health() Health {
	h := Health{Connected: n.nc.IsConnected()}
	n.cur.health(len(n.watch.buckets), time.Now(), &h)
	h.Current = h.Current && n.Ready()
	return h
}

// Current reports whether this node can prove its opt-outs, consents and
// caps current: it applied everything the cluster acknowledged as of a
// moment within the staleness, no cap reservation failed since, and it
// keeps applying changes.
func (n *Node) Current() bool {
	return n.Ready() && n.cur.proven(len(n.watch.buckets), time.Now())
}
