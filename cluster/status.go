package cluster

import (
	"context"
	"strings"
)

// Status is what `gatekeeper cluster status` shows.
type Status struct {
	Node       string         `json:"node"`
	Server     string         `json:"server"` // the NATS server this node is connected to
	Ready      bool           `json:"ready"`  // caught up with the buckets
	Buckets    []StreamStatus `json:"buckets"`
	CapStreams []StreamStatus `json:"cap_streams"`
}

// StreamStatus is one bucket's or cap stream's state.
type StreamStatus struct {
	Name     string `json:"name"`
	Messages uint64 `json:"messages"`
	Subjects uint64 `json:"subjects"`
	LastSeq  uint64 `json:"last_seq"`
	Leader   string `json:"leader,omitempty"`
	Replicas []Peer `json:"replicas,omitempty"`
	// Applied is the last revision this node applied (buckets only); Behind
	// is LastSeq - Applied, the revisions written but not yet applied here.
	Applied uint64 `json:"applied,omitempty"`
	Behind  uint64 `json:"behind"`
}

// Peer is a server keeping a replica, as the leader sees it.
type Peer struct {
	Name    string `json:"name"`
	Current bool   `json:"current"`
	Lag     uint64 `json:"lag"` // operations behind the leader
}

// Status asks the cluster for its buckets and cap streams.
func (n *Node) Status(ctx context.Context) (Status, error) {
	st := Status{Node: n.opts.Node, Server: n.nc.ConnectedServerName(), Ready: n.Ready()}
	applied := n.watch.applied()
	streams := n.js.ListStreams(ctx)
	for info := range streams.Info() {
		s := StreamStatus{Name: info.Config.Name, Messages: info.State.Msgs, Subjects: info.State.NumSubjects, LastSeq: info.State.LastSeq}
		if c := info.Cluster; c != nil {
			s.Leader = c.Leader
			for _, p := range c.Replicas {
				s.Replicas = append(s.Replicas, Peer{Name: p.Name, Current: p.Current, Lag: p.Lag})
			}
		}
		switch bucket, isKV := strings.CutPrefix(info.Config.Name, "KV_"); {
		case isKV && (bucket == optOutBucket || bucket == consentBucket):
			s.Applied = applied[bucket]
			s.Behind = s.LastSeq - min(s.Applied, s.LastSeq)
			st.Buckets = append(st.Buckets, s)
		case strings.HasPrefix(info.Config.Name, capStreamPrefix):
			st.CapStreams = append(st.CapStreams, s)
		}
	}
	return st, streams.Err()
}
