package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// Sink is the local store the buckets are watched into: registry.Store.
// Applying an entry twice (after a crash between applying it and keeping the
// cursor) must leave the same state: an opt-out added again is "already
// listed", a consent granted or revoked again changes no answer.
type Sink interface {
	ChangeLive(registry.LiveRequest) ([]registry.Change, error)
	ChangeConsent(registry.ConsentRequest) (registry.ConsentChange, error)
}

// entry is the value of a bucket's key: a request as the node that took it
// checked it, applied alike by every node.
type entry struct {
	Node    string          `json:"node"` // the node that took the request
	ID      string          `json:"id"`   // unique per request, so that node sees its own applied
	Request json.RawMessage `json:"request"`
}

// Applied is a change this node applied from the cluster with no request
// to this node waiting for it (Options.OnApplied).
type Applied struct {
	Node    string                  // the node that took the request
	Live    []registry.Change       // an opt-out bucket's change, as this registry recorded it
	Consent *registry.ConsentChange // a consent bucket's change, as this registry recorded it
}

// applied is what applying an entry to the local store gave.
type applied struct {
	changes []registry.Change      // optOutBucket
	consent registry.ConsentChange // consentBucket
	err     error
}

// answerWait bounds how long a change waits to see itself applied locally.
const answerWait = 10 * time.Second

// ChangeLive adds numbers to a list or removes them from it in every node:
// one bucket key per number holds the change in force. It returns once
// this node has applied the changes, with what its registry recorded.
// Errors: a bad request as registry.Store.ChangeLive says it, ErrNotCaughtUp,
// ErrNoAnswer, or the cluster's.
func (n *Node) ChangeLive(ctx context.Context, req registry.LiveRequest) ([]registry.Change, error) {
	if err := req.Check(); err != nil {
		return nil, err
	}
	var out []registry.Change
	for _, e164 := range req.Numbers {
		one := req
		one.Numbers = []string{e164}
		a, err := n.put(ctx, optOutBucket, n.optOuts, req.List+"."+e164[1:], one)
		if err != nil {
			return out, err
		}
		out = append(out, a.changes...)
	}
	return out, nil
}

// ChangeConsent grants or revokes consent in every node, as
// registry.Store.ChangeConsent does in one; the grant or revocation time
// is set here, so that every node records the same.
func (n *Node) ChangeConsent(ctx context.Context, req registry.ConsentRequest) (registry.ConsentChange, error) {
	if req.At.IsZero() {
		req.At = time.Now().UTC()
	}
	if err := req.Check(); err != nil {
		return registry.ConsentChange{}, err
	}
	// A key of its own for every change: two changes given the same time
	// (consent add --at) must not overwrite each other in the bucket.
	key := req.Number[1:] + "." + n.opts.Node + "." + nuid.Next()
	a, err := n.put(ctx, consentBucket, n.consents, key, req)
	return a.consent, err
}

// put writes req under key and waits until this node's watcher applied it.
func (n *Node) put(ctx context.Context, bucket string, kv jetstream.KeyValue, key string, req any) (applied, error) {
	if !n.Ready() {
		return applied{}, ErrNotCaughtUp
	}
	raw, err := json.Marshal(req)
	if err != nil {
		return applied{}, err
	}
	e := entry{Node: n.opts.Node, ID: nuid.Next(), Request: raw}
	value, err := json.Marshal(e)
	if err != nil {
		return applied{}, err
	}
	answer := n.watch.expect(e.ID)
	defer n.watch.forget(e.ID)
	if _, err := kv.Put(ctx, key, value); err != nil {
		return applied{}, fmt.Errorf("bucket %s: %w", bucket, err)
	}
	select {
	case a := <-answer:
		return a, a.err
	case <-time.After(answerWait):
		return applied{}, ErrNoAnswer
	case <-ctx.Done():
		return applied{}, fmt.Errorf("%w: %w", ErrNoAnswer, ctx.Err())
	}
}

// watcher applies the buckets' entries to the sink, in revision order per
// bucket, and keeps the last revision applied of each in the cursor file.
type watcher struct {
	opts     Options
	cur      *currency
	buckets  map[string]jetstream.KeyValue
	caughtUp chan struct{}

	mu      sync.Mutex
	cursor  map[string]uint64 // bucket -> last revision applied
	caught  map[string]bool   // bucket -> its nil marker was seen
	failing map[string]error  // bucket -> the apply that keeps failing
	waiters map[string]chan applied
	// consents indexes the consent bucket's entries, for CompactConsents.
	consents consentIndex
}

func newWatcher(opts Options, cursor map[string]uint64, cur *currency, buckets map[string]jetstream.KeyValue) *watcher {
	return &watcher{opts: opts, cur: cur, buckets: buckets, caughtUp: make(chan struct{}), cursor: cursor,
		caught: map[string]bool{}, failing: map[string]error{}, waiters: map[string]chan applied{}, consents: consentIndex{}}
}

func (w *watcher) ready() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.readyLocked()
}

func (w *watcher) readyLocked() bool {
	return len(w.caught) == len(w.buckets) && len(w.failing) == 0
}

func (w *watcher) expect(id string) <-chan applied {
	ch := make(chan applied, 1)
	w.mu.Lock()
	w.waiters[id] = ch
	w.mu.Unlock()
	return ch
}

func (w *watcher) forget(id string) {
	w.mu.Lock()
	delete(w.waiters, id)
	w.mu.Unlock()
}

// applied returns the last revision applied of each bucket.
func (w *watcher) applied() map[string]uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]uint64, len(w.cursor))
	for b, rev := range w.cursor {
		out[b] = rev
	}
	return out
}

func (w *watcher) run(ctx context.Context) {
	var wg sync.WaitGroup
	for name, kv := range w.buckets {
		wg.Go(func() { w.watchBucket(ctx, name, kv) })
	}
	wg.Wait()
}

// watchBucket watches one bucket until ctx ends: every key's latest entry,
// then the nil marker (caught up), then each change as it is made.
func (w *watcher) watchBucket(ctx context.Context, bucket string, kv jetstream.KeyValue) {
	for ctx.Err() == nil {
		started := time.Now()
		kw, err := kv.WatchAll(ctx)
		if err != nil {
			w.opts.Log.Warn("watching a cluster bucket", "bucket", bucket, "error", err)
			sleep(ctx, time.Second)
			continue
		}
		for e := range kw.Updates() {
			switch {
			case e == nil:
				// Everything the stream held when the watch started is applied.
				w.cur.prove(bucket, started)
				w.markCaught(bucket)
			case e.Operation() != jetstream.KeyValuePut:
				w.skip(bucket, e.Revision())
				if bucket == consentBucket {
					w.index(e.Key(), nil)
				}
			default:
				if bucket == consentBucket {
					w.index(e.Key(), e.Value())
				}
				w.apply(ctx, bucket, e)
			}
		}
		kw.Stop()
	}
}

func (w *watcher) markCaught(bucket string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.caught[bucket] = true
	if w.readyLocked() {
		select {
		case <-w.caughtUp:
		default:
			close(w.caughtUp)
			w.opts.Log.Info("caught up with the cluster", "applied", w.cursor)
		}
	}
}

// apply applies one entry unless an earlier run did, retrying while the
// local store fails: skipping it would lose an opt-out on this node, so the
// node stays unready instead.
func (w *watcher) apply(ctx context.Context, bucket string, kve jetstream.KeyValueEntry) {
	rev := kve.Revision()
	w.mu.Lock()
	done := rev <= w.cursor[bucket]
	w.mu.Unlock()
	if done {
		return
	}
	var e entry
	apply, err := decode(bucket, kve.Value(), &e, w.opts.Node)
	if err != nil {
		// Not written by a gatekeeper: nothing to apply, nothing to retry.
		w.opts.Log.Error("a cluster bucket holds an entry that is not a change", "bucket", bucket, "key", kve.Key(), "revision", rev, "error", err)
		w.advance(bucket, rev, e, applied{err: err})
		return
	}
	for ctx.Err() == nil {
		a := apply(w.opts.Sink)
		if a.err == nil {
			w.advance(bucket, rev, e, a)
			return
		}
		w.mu.Lock()
		w.failing[bucket] = a.err
		w.mu.Unlock()
		w.opts.Log.Error("applying a cluster change to the registry failed; retrying", "bucket", bucket, "key", kve.Key(), "error", a.err)
		sleep(ctx, time.Second)
	}
}

// decode reads a bucket's value into e and returns what applies its request
// to a sink. A request another node took says so in its via, so that this
// node's history tells where the change came from.
func decode(bucket string, value []byte, e *entry, self string) (func(Sink) applied, error) {
	if err := json.Unmarshal(value, e); err != nil {
		return nil, err
	}
	from := ""
	if e.Node != self {
		from = ", from node " + e.Node + " through the cluster"
	}
	if bucket == optOutBucket {
		var req registry.LiveRequest
		err := json.Unmarshal(e.Request, &req)
		req.Via += from
		return func(s Sink) applied {
			changes, err := s.ChangeLive(req)
			return applied{changes: changes, err: err}
		}, err
	}
	var req registry.ConsentRequest
	err := json.Unmarshal(e.Request, &req)
	req.Via += from
	return func(s Sink) applied {
		c, err := s.ChangeConsent(req)
		return applied{consent: c, err: err}
	}, err
}

// advance records rev as applied, keeps the cursor, and answers the node
// that took the request when it is this one; any other change applied is
// reported to Options.OnApplied.
func (w *watcher) advance(bucket string, rev uint64, e entry, a applied) {
	w.mu.Lock()
	w.keepLocked(bucket, rev)
	ch := w.waiters[e.ID]
	w.mu.Unlock()
	switch {
	case ch != nil:
		ch <- a
	case a.err == nil && w.opts.OnApplied != nil && (len(a.changes) > 0 || a.consent.Action != ""):
		out := Applied{Node: e.Node, Live: a.changes}
		if a.consent.Action != "" {
			out.Consent = &a.consent
		}
		w.opts.OnApplied(out)
	}
}

// skip records rev as seen with nothing to apply: a delete or purge marker,
// which no gatekeeper writes.
func (w *watcher) skip(bucket string, rev uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rev > w.cursor[bucket] {
		w.keepLocked(bucket, rev)
	}
}

func (w *watcher) keepLocked(bucket string, rev uint64) {
	delete(w.failing, bucket)
	w.cursor[bucket] = rev
	if err := writeCursor(w.opts.Cursor, w.cursor); err != nil {
		// The change is applied; a restart applies it again, which changes nothing.
		w.opts.Log.Warn("keeping the cluster cursor", "file", w.opts.Cursor, "error", err)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// readCursor reads the cursor file: JSON {bucket: revision}. A missing file
// is an empty cursor (a new node applies everything).
func readCursor(path string) (map[string]uint64, error) {
	cursor := map[string]uint64{}
	if path == "" {
		return cursor, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cursor, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &cursor); err != nil {
		return nil, fmt.Errorf("cluster cursor %s: %w", path, err)
	}
	return cursor, nil
}

// writeCursor replaces the cursor file whole (a temporary file, fsync, rename).
func writeCursor(path string, cursor map[string]uint64) error {
	if path == "" {
		return nil
	}
	data, err := json.Marshal(cursor)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
