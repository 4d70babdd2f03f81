package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// The buckets every node watches into its registry.
const (
	optOutBucket  = "gk_optouts"  // key LIST.DIGITS: the live change in force for the number on the list
	consentBucket = "gk_consents" // key DIGITS.NODE.ID: one consent grant or revocation
)

// Options say how a node joins the cluster.
type Options struct {
	// Node is this gatekeeper's name, unique in the cluster.
	Node string
	// URLs are NATS client URLs (nats://HOST:PORT) tried in turn.
	URLs []string
	// Replicas is how many servers keep each bucket and stream (1 to 5).
	Replicas int
	// Sink is the local registry the buckets are watched into.
	Sink Sink
	// Cursor is the file that keeps how far the buckets were applied to
	// Sink, so that a restart applies only what it missed.
	Cursor string
	// Setup bounds how long Open waits for JetStream to answer (a new
	// cluster elects its meta leader in about 2 s); default 30 s.
	Setup time.Duration
	// Staleness is how long a proof that this node applied everything the
	// cluster acknowledged holds (Node.Current); default DefaultStaleness.
	Staleness time.Duration
	// OnApplied, when set, is called with every change this node applied
	// from the buckets that no request to this node is waiting for: the
	// changes other nodes took, and this node's own that it applies again
	// after a restart. Its records of them are the caller's to keep.
	OnApplied func(Applied)
	// Spent, when set, says which consent grants can decide no call any
	// more (policy.ConsentSpent): the node purges those it took from the
	// consent bucket every CompactEvery (default DefaultCompactEvery).
	Spent        func(grant registry.ConsentRecord, revocations []registry.ConsentChange, now time.Time) bool
	CompactEvery time.Duration
	Log          *slog.Logger
}

// Node is this gatekeeper's membership of the cluster.
type Node struct {
	opts     Options
	nc       *nats.Conn
	js       jetstream.JetStream
	optOuts  jetstream.KeyValue
	consents jetstream.KeyValue
	watch    *watcher
	cur      *currency
	capsMu   sync.Mutex
	caps     map[string]bool // stream name -> known to exist
	cancel   context.CancelFunc
	done     chan struct{}
}

// Open connects to the cluster, creates the buckets if they do not exist,
// and starts watching them into opts.Sink. It returns once the buckets exist;
// Ready reports when this node has caught up with them.
func Open(ctx context.Context, opts Options) (*Node, error) {
	if opts.Setup == 0 {
		opts.Setup = 30 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.Staleness == 0 {
		opts.Staleness = DefaultStaleness
	}
	if opts.CompactEvery == 0 {
		opts.CompactEvery = DefaultCompactEvery
	}
	cursor, err := readCursor(opts.Cursor)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(strings.Join(opts.URLs, ","), nats.Name("gatekeeper "+opts.Node), nats.MaxReconnects(-1), nats.DontRandomize())
	if err != nil {
		return nil, fmt.Errorf("connect to NATS %v: %w", opts.URLs, err)
	}
	n := &Node{opts: opts, nc: nc, done: make(chan struct{}), caps: map[string]bool{}}
	if n.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return nil, err
	}
	setupCtx, cancelSetup := context.WithTimeout(ctx, opts.Setup)
	defer cancelSetup()
	if n.optOuts, err = n.bucket(setupCtx, optOutBucket, "live opt-outs: the change in force per list and number"); err == nil {
		n.consents, err = n.bucket(setupCtx, consentBucket, "live consent grants and revocations, one key each")
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.cur = newCurrency(opts.Staleness, opts.Log)
	n.watch = newWatcher(opts, cursor, n.cur, map[string]jetstream.KeyValue{optOutBucket: n.optOuts, consentBucket: n.consents})
	go func() {
		defer close(n.done)
		var wg sync.WaitGroup
		wg.Go(func() { n.watch.run(runCtx) })
		wg.Go(func() { every(runCtx, probeEvery, n.watchCurrency) })
		wg.Go(func() { every(runCtx, n.opts.CompactEvery, n.compact) })
		wg.Wait()
	}()
	return n, nil
}

// bucket creates or opens a key-value bucket.
func (n *Node) bucket(ctx context.Context, name, what string) (kv jetstream.KeyValue, err error) {
	cfg := jetstream.KeyValueConfig{Bucket: name, Description: what, Replicas: n.opts.Replicas, Storage: jetstream.FileStorage}
	err = retry(ctx, func(try context.Context) (err error) {
		kv, err = n.js.CreateOrUpdateKeyValue(try, cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", name, err)
	}
	return kv, nil
}

// retry calls f until it succeeds or ctx ends, each try bounded to 2 s: a
// request made while the cluster elects a leader (about 2 s for a new
// cluster), or while a loaded server is slow, gets no answer. It returns
// f's last error.
func retry(ctx context.Context, f func(try context.Context) error) error {
	for {
		try, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := f(try)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Ready reports whether this node has applied everything the buckets held
// when it started watching, and keeps applying their changes: until then a
// call would be decided on stale opt-outs and consents.
func (n *Node) Ready() bool { return n.watch.ready() }

// CaughtUp is closed when Ready first becomes true.
func (n *Node) CaughtUp() <-chan struct{} { return n.watch.caughtUp }

// Close stops watching and disconnects.
func (n *Node) Close() {
	n.cancel()
	<-n.done
	n.nc.Close()
}
