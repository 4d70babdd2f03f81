package cluster

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// DefaultCompactEvery is how often a node purges the spent consent grants
// it took from the consent bucket, when Options.CompactEvery is not set.
const DefaultCompactEvery = time.Hour

// consentIndex is the consent bucket as this node's watcher saw it: number
// -> bucket key (DIGITS.NODE.ID) -> the grant or revocation it holds.
type consentIndex map[string]map[string]registry.ConsentRequest

// index records a consent bucket entry, or with value nil its removal.
func (w *watcher) index(key string, value []byte) {
	digits, _, _ := strings.Cut(key, ".")
	w.mu.Lock()
	defer w.mu.Unlock()
	if value == nil {
		delete(w.consents[digits], key)
		if len(w.consents[digits]) == 0 {
			delete(w.consents, digits)
		}
		return
	}
	var e entry
	var req registry.ConsentRequest
	if json.Unmarshal(value, &e) != nil || json.Unmarshal(e.Request, &req) != nil {
		return // not a change: nothing a compaction could fold
	}
	if w.consents[digits] == nil {
		w.consents[digits] = map[string]registry.ConsentRequest{}
	}
	w.consents[digits][key] = req
}

// spentGrants lists the keys of the grants node took that spent says can
// decide no call any more, given every revocation of their number.
func (w *watcher) spentGrants(node string, now time.Time, spent func(registry.ConsentRecord, []registry.ConsentChange, time.Time) bool) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var keys []string
	for _, changes := range w.consents {
		var revocations []registry.ConsentChange
		for _, req := range changes {
			if req.Revoke {
				revocations = append(revocations, registry.ConsentChange{Action: "revoke", Number: req.Number,
					Seller: req.Seller, Campaign: req.Campaign, At: req.At})
			}
		}
		for key, req := range changes {
			if parts := strings.Split(key, "."); req.Revoke || len(parts) != 3 || parts[1] != node {
				continue
			}
			grant := registry.ConsentRecord{Number: req.Number, Seller: req.Seller, Campaign: req.Campaign, Kind: req.Kind,
				GrantedAt: req.At, ExpiresAt: req.Expires}
			if spent(grant, revocations, now) {
				keys = append(keys, key)
			}
		}
	}
	return keys
}

// CompactConsents purges from the consent bucket the grants this node took
// that Options.Spent says can decide no call from now on (expired, or
// withdrawn by a later revocation for their whole scope), and returns how
// many. Each node purges only its own, so that two never purge one key.
// A purge leaves a small marker in the bucket; revocations and the grants
// still in force stay for good, so that a node that joins later decides as
// the others do. The registries keep every change they applied. Without
// Options.Spent it purges nothing. Errors are the cluster's.
func (n *Node) CompactConsents(ctx context.Context, now time.Time) (int, error) {
	if n.opts.Spent == nil {
		return 0, nil
	}
	purged := 0
	for _, key := range n.watch.spentGrants(n.opts.Node, now, n.opts.Spent) {
		if err := n.consents.Purge(ctx, key); err != nil {
			return purged, err
		}
		purged++
	}
	return purged, nil
}

// compact runs CompactConsents and logs what it did; every calls it every
// Options.CompactEvery.
func (n *Node) compact(ctx context.Context) {
	purged, err := n.CompactConsents(ctx, time.Now())
	switch {
	case err != nil && ctx.Err() == nil:
		n.opts.Log.Warn("compacting the consent bucket", "purged", purged, "error", err)
	case purged > 0:
		n.opts.Log.Info("compacted the consent bucket: spent grants purged", "purged", purged)
	}
}
