package cluster

import "errors"

// ErrNotCaughtUp is returned when a change is asked of a node whose watchers
// have not yet applied the buckets' contents.
var ErrNotCaughtUp = errors.New("this node has not caught up with the cluster yet")

// ErrNoAnswer is returned when a change was sent to the cluster but this
// node did not see it applied in time; the change may still be in force.
var ErrNoAnswer = errors.New("the change was sent to the cluster but not seen applied in time")

// ErrUnproven is returned when a cap is asked of a node that cannot prove
// it reaches the cluster: it has not proven its copy current within the
// staleness, or a reservation failed since it last did.
var ErrUnproven = errors.New("this node cannot prove it reaches the cluster")

// ErrNoLeader is returned when a bucket's stream answered without a
// leader: a replica that lost its quorum, whose copy may lack changes the
// cluster acknowledged.
var ErrNoLeader = errors.New("the bucket has no leader: its quorum is lost")
