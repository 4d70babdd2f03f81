package main

import (
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

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

// admit is sip.Config.Admit.
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
			func() float64 {
				if g.health() != nil {
					return 0
				}
				return 1
			}),
	}
}
