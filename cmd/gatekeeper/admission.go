package main

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatekeeper-sip/gatekeeper/cluster"
	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// recordGate keeps the proxy from deciding calls the decision log could not
// record: while the log falls behind or the disk refuses writes, it refuses
// what audit.on_failure says (automated calls, all calls, or none) with 503
// and Retry-After. It logs once when such an episode starts and once when
// a call finds the log well again, and counts the calls it refused.
type recordGate struct {
	health    func() error // audit.Log.Health
	onFailure string       // config.RefuseAutomated, RefuseAll or Allow
	log       *slog.Logger
	failing   atomic.Bool
	refused   atomic.Uint64
}

// admit is part of sip.Config.Admit (sip.UnavailableUnrecorded).
func (g *recordGate) admit(call policy.Call) bool {
	err := g.health()
	if err == nil {
		if g.failing.CompareAndSwap(true, false) {
			g.log.Info("audit: the decision log keeps up again; calls are decided", "refused_so_far", g.refused.Load())
		}
		return true
	}
	if g.failing.CompareAndSwap(false, true) {
		g.log.Error("audit: the decision log cannot record decisions; calls are refused as audit.on_failure says",
			"on_failure", g.onFailure, "error", err)
	}
	if g.onFailure == config.Allow || (g.onFailure == config.RefuseAutomated && !call.Automated) {
		return true
	}
	g.refused.Add(1)
	return false
}

// collectors are the gate's metrics.
func (g *recordGate) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gatekeeper_audit_refused_calls_total",
			Help: "Calls answered 503 undecided because the decision log could not record them (audit.on_failure)."},
			func() float64 { return float64(g.refused.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatekeeper_audit_healthy",
			Help: "1 while the decision log keeps up and writes, 0 while it falls behind or the disk refuses writes."},
			func() float64 { return boolGauge(g.health() == nil) }),
	}
}

// clusterGate refuses automated calls with 503 and Retry-After while this
// node cannot prove that its opt-outs, consents and caps are current
// (cluster.unreachable: fail_closed): an opt-out taken by another node
// could be missing here. Manual calls are decided from the local copy, as
// the policy's on_error lets an outage pass the calls agents dial by hand;
// a cap they need is not reserved (cluster.ErrUnproven) and falls to
// on_error. The node logs each loss and each recovery (cluster.Node).
type clusterGate struct {
	node    *cluster.Node
	mode    string // config.FailClosed or config.Serve
	refused atomic.Uint64
}

// admit is part of sip.Config.Admit (sip.UnavailableCluster).
func (g *clusterGate) admit(call policy.Call) bool {
	if g.mode == config.Serve || !call.Automated || g.node.Current() {
		return true
	}
	g.refused.Add(1)
	return false
}

// unready says why the node does not take calls for the cluster's sake, or "".
func (g *clusterGate) unready() string {
	h := g.node.Health()
	switch {
	case !g.node.Ready():
		return "the cluster: this node is catching up with the shared opt-outs and consents"
	case g.mode == config.FailClosed && !h.Current:
		why := "never proven"
		if !h.ProvenAt.IsZero() {
			why = fmt.Sprintf("last proven %s ago", time.Since(h.ProvenAt).Round(time.Second))
		}
		return "the cluster: this node cannot prove its opt-outs, consents and caps are current (" + why + "), automated calls are refused"
	}
	return ""
}

// collectors are the gate's metrics.
func (g *clusterGate) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatekeeper_cluster_connected",
			Help: "1 while this node is connected to a NATS server of the cluster, else 0."},
			func() float64 { return boolGauge(g.node.Health().Connected) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatekeeper_cluster_current",
			Help: "1 while this node can prove its opt-outs, consents and caps current (within cluster.staleness), else 0."},
			func() float64 { return boolGauge(g.node.Current()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatekeeper_cluster_sync_age_seconds",
			Help: "Seconds since this node last proved it had applied everything the cluster acknowledged (-1: never)."},
			func() float64 {
				if at := g.node.Health().ProvenAt; !at.IsZero() {
					return time.Since(at).Seconds()
				}
				return -1
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "gatekeeper_cluster_refused_calls_total",
			Help: "Automated calls answered 503 undecided because this node could not prove its copy of the cluster's data current (cluster.unreachable: fail_closed)."},
			func() float64 { return float64(g.refused.Load()) }),
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
