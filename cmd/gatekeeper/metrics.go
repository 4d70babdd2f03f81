package main

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/media"
	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/registry"
	"github.com/gatekeeper-sip/gatekeeper/sip"
)

// metrics are what an admin watches: decisions by rule and answer and how
// long the policy took, policy reloads, the proxy's counts, the lists' ages
// and the audit log's health, queue and writes.
type metrics struct {
	registry  *prometheus.Registry
	decisions *prometheus.CounterVec
	monitored *prometheus.CounterVec
	// decide is the time the policy takes to decide a call (timedDecider).
	decide prometheus.Histogram
	// auditWrite is the time a batch of records takes to be written and
	// fsynced (audit.Options.OnWrite).
	auditWrite prometheus.Histogram
}

// listLister is the registry as the list age metric reads it.
type listLister interface {
	Lists() ([]registry.ListInfo, error)
}

// newMetrics makes the metrics the parts feed as they open; watch adds
// those read from the running parts.
func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatekeeper_decisions_total",
			Help: "Calls decided, by what happened to them (allow: forwarded, reject), the rule and the final SIP status the dialer got, as in the decision log.",
		}, []string{"decision", "rule", "status"}),
		monitored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatekeeper_monitored_total",
			Help: "Calls forwarded although a monitored rule would have rejected them, by that rule and the status it would have sent (the decision log's would).",
		}, []string{"rule", "status"}),
		decide: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatekeeper_decision_duration_seconds",
			Help:    "Time the policy took to decide a call, in seconds (the lookups included; the carrier's answer not).",
			Buckets: prometheus.ExponentialBuckets(5e-6, 2, 14), // 5 µs to 41 ms
		}),
		auditWrite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatekeeper_audit_write_duration_seconds",
			Help:    "Time the decision log took to write and fsync a batch of records, in seconds.",
			Buckets: prometheus.ExponentialBuckets(1e-4, 2, 16), // 100 µs to 3.3 s
		}),
	}
	m.registry.MustRegister(m.decisions, m.monitored, m.decide, m.auditWrite,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// watch adds the metrics read from the running parts at every scrape.
func (m *metrics) watch(proxy *sip.Proxy, rules *livePolicy, decisions *audit.Log, lists listLister, now func() time.Time) {
	m.registry.MustRegister(
		counter("gatekeeper_sip_invites_total", "New INVITEs from dialer sources that passed validation.",
			func() float64 { return float64(proxy.Stats().Invites) }),
		refusedCounts{proxy},
		counter("gatekeeper_sip_invalid_requests_total", "Requests refused by validation (RFC 3261 16.3).",
			func() float64 { return float64(proxy.Stats().Invalid) }),
		gauge("gatekeeper_sip_dialogs", "Calls whose routing state the proxy holds.",
			func() float64 { return float64(proxy.Stats().Dialogs) }),
		gauge("gatekeeper_sip_invites_in_flight", "New INVITE transactions in progress: admitted, not yet answered finally (sip.limits.in_flight caps them).",
			func() float64 { return float64(proxy.Stats().InFlight) }),
		gauge("gatekeeper_ready", "1 while the gatekeeper takes calls (what /readyz and an OPTIONS answer say), 0 while it starts, drains or lacks fresh data.",
			func() float64 {
				if proxy.Serving() {
					return 1
				}
				return 0
			}),
		counter("gatekeeper_policy_reload_failures_total", "Policy reloads refused because the new file was invalid.",
			func() float64 { return float64(rules.failures.Load()) }),
		listAges{lists: lists, now: now},
		counter("gatekeeper_audit_dropped_total", "Decisions the audit log could not queue or write (should stay 0).",
			func() float64 { return float64(decisions.Dropped()) }),
		gauge("gatekeeper_audit_queue_length", "Records waiting in the decision log's queue for the writer (past half of its 65536, calls are refused as audit.on_failure says).",
			func() float64 { return float64(decisions.Queued()) }),
	)
}

// counter is a counter read from a running part at every scrape.
func counter(name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
}

// gauge is a gauge read from a running part at every scrape.
func gauge(name, help string, f func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
}

// watchMedia adds the media relay's metrics; without a relay (no call is
// anchored) they stay 0.
func (m *metrics) watchMedia(relay *media.Relay) {
	stats := func() media.Stats {
		if relay == nil {
			return media.Stats{}
		}
		return relay.Stats()
	}
	m.registry.MustRegister(
		gauge("gatekeeper_media_sessions", "Calls whose media the relay anchors now.",
			func() float64 { return float64(stats().Sessions) }),
		gauge("gatekeeper_media_ports_in_use", "UDP ports of media.ports the relay holds now (four per anchored stream).",
			func() float64 { return float64(stats().PortsInUse) }),
		counter("gatekeeper_media_packets_total", "RTP and RTCP packets the relay passed on.",
			func() float64 { return float64(stats().Packets) }),
		counter("gatekeeper_media_bytes_total", "UDP payload bytes of the packets the relay passed on.",
			func() float64 { return float64(stats().Bytes) }),
		counter("gatekeeper_media_dropped_total", "Packets the relay did not pass on: not RTP on an RTP port, or nowhere to send them (hold, no SDP yet).",
			func() float64 { return float64(stats().Dropped) }),
		counter("gatekeeper_media_idle_ended_total", "Anchored calls whose ports were freed after media.idle_timeout without a packet.",
			func() float64 { return float64(stats().IdleEnded) }),
	)
}

// timedDecider is the policy as the proxy sees it, timing every decision.
type timedDecider struct {
	sip.Decider
	seconds prometheus.Observer
}

func (d timedDecider) Decide(ctx context.Context, call policy.Call) policy.Decision {
	start := time.Now()
	decision := d.Decider.Decide(ctx, call)
	d.seconds.Observe(time.Since(start).Seconds())
	return decision
}

// refusedCounts reports the messages the proxy refused or dropped, by reason.
type refusedCounts struct{ proxy *sip.Proxy }

var refusedDesc = prometheus.NewDesc("gatekeeper_sip_refused_total",
	"Messages refused (403, 503) or dropped before any policy, by reason: stranger (no dialer's source, or the carrier outside its dialogs), "+
		"unparsable (no SIP message), rate_limited (sip.limits.per_source), overload (sip.limits.in_flight), unauthorized (wrong digest credentials), "+
		"tls_handshake (a connection to a tls:// listener whose handshake failed: plaintext, no or an untrusted client certificate).",
	[]string{"reason"}, nil)

func (c refusedCounts) Describe(ch chan<- *prometheus.Desc) { ch <- refusedDesc }

func (c refusedCounts) Collect(ch chan<- prometheus.Metric) {
	for reason, n := range c.proxy.Stats().Refused {
		ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(n), reason.String())
	}
}

// observe counts one decision as the decision log records it (auditRecord).
func (m *metrics) observe(r audit.Record) {
	m.decisions.WithLabelValues(r.Decision, r.Rule, strconv.Itoa(r.Status)).Inc()
	if r.Monitor {
		m.monitored.WithLabelValues(r.Rule, strconv.Itoa(r.Would.Status)).Inc()
	}
}

// listAges reports each imported list's age, read from the registry at
// every scrape: an alert on it comes before the stale rule refuses calls.
type listAges struct {
	lists listLister
	now   func() time.Time
}

var listAgeDesc = prometheus.NewDesc("gatekeeper_list_age_seconds",
	"Age of each imported list: the time since the date its data is as of (the FTC's safe harbor wants the national list within 31 days).",
	[]string{"list"}, nil)

func (a listAges) Describe(ch chan<- *prometheus.Desc) { ch <- listAgeDesc }

func (a listAges) Collect(ch chan<- prometheus.Metric) {
	lists, err := a.lists.Lists()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(listAgeDesc, err)
		return
	}
	now := a.now()
	for _, l := range lists {
		if l.Version != 0 { // lists of live changes only have no date
			ch <- prometheus.MustNewConstMetric(listAgeDesc, prometheus.GaugeValue, now.Sub(l.AsOf()).Seconds(), l.Name)
		}
	}
}
