package cluster

import (
	"context"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// Registry is the registry the policy asks in a cluster: the local store
// for everything, and the cluster's cap streams for frequency caps
// (policy.CapReserver), so that the caps hold across nodes. Attempts are
// still recorded in the local store too (RecordAttempt), where `gatekeeper
// lookup` and replays read them.
type Registry struct {
	*registry.Store
	Node *Node
}

// ReserveAttempt reserves the call's place under the cap (Node.Reserve).
func (r Registry) ReserveAttempt(ctx context.Context, name string, limit int, within time.Duration, callID string) (bool, error) {
	return r.Node.Reserve(ctx, Cap{Limit: limit, Within: within}, name, callID)
}
