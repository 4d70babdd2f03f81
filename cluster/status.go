package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
	// is LastSeq - Applied, the revisions written but not yet applied here,
	// and Since when the first of them still in the bucket was written
	// (zero when none is).
	Applied uint64    `json:"applied,omitempty"`
	Behind  uint64    `json:"behind"`
	Since   time.Time `json:"since,omitzero"`
}

// Peer is a server keeping a replica, as the leader sees it.
type Peer struct {
	Name    string `json:"name"`
	Current bool   `json:"current"`
	Lag     uint64 `json:"lag"` // operations behind the leader
}

// Status asks the cluster for its buckets and cap streams.
func (n *Node) Status(ctx context.Context) (Status, error) {
	return status(ctx, n.js, Status{Node: n.opts.Node, Server: n.nc.ConnectedServerName(), Ready: n.Ready()}, n.watch.applied())
}

// Survey is Status for a node that may not be running: it connects to
// opts.URLs, and reads how far the node applied the buckets from opts.Cursor.
// Ready is false: only the running node knows.
func Survey(ctx context.Context, opts Options) (Status, error) {
	applied, err := readCursor(opts.Cursor)
	if err != nil {
		return Status{}, err
	}
	nc, err := nats.Connect(strings.Join(opts.URLs, ","), nats.Name("gatekeeper cluster status"))
	if err != nil {
		return Status{}, fmt.Errorf("connect to NATS %v: %w", opts.URLs, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return Status{}, err
	}
	return status(ctx, js, Status{Node: opts.Node, Server: nc.ConnectedServerName()}, applied)
}

func status(ctx context.Context, js jetstream.JetStream, st Status, applied map[string]uint64) (Status, error) {
	streams := js.ListStreams(ctx)
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
			if s.Behind > 0 {
				s.Since = firstUnapplied(ctx, js, info.Config.Name, bucket, s.Applied+1)
			}
			st.Buckets = append(st.Buckets, s)
		case strings.HasPrefix(info.Config.Name, capStreamPrefix):
			st.CapStreams = append(st.CapStreams, s)
		}
	}
	return st, streams.Err()
}

// firstUnapplied is when the bucket's first message from revision from on
// was written; zero when there is none or the cluster does not answer.
func firstUnapplied(ctx context.Context, js jetstream.JetStream, stream, bucket string, from uint64) time.Time {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return time.Time{}
	}
	msg, err := s.GetMsg(ctx, from, jetstream.WithGetMsgSubject("$KV."+bucket+".>"))
	if err != nil {
		return time.Time{}
	}
	return msg.Time
}
