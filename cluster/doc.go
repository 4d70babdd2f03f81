// Package cluster lets several gatekeepers share one truth through NATS
// JetStream (docs/scale-out.md): live opt-outs and consent changes go to
// key-value buckets that every node watches into its own registry, so that a
// call is decided from local data, and forwarded attempts go to one stream
// per frequency cap, whose per-subject limit the server enforces for every
// node at once.
//
// The package owns NATS: it may run an embedded server (Embed), connects to
// the cluster (Open) and feeds the registry through Sink. The registry knows
// nothing of NATS, and the policy asks its Registry interface as when alone.
package cluster
