package cluster

import "errors"

// ErrNotCaughtUp is returned when a change is asked of a node whose watchers
// have not yet applied the buckets' contents.
var ErrNotCaughtUp = errors.New("this node has not caught up with the cluster yet")

// ErrNoAnswer is returned when a change was sent to the cluster but this
// node did not see it applied in time; the change may still be in force.
var ErrNoAnswer = errors.New("the change was sent to the cluster but not seen applied in time")
