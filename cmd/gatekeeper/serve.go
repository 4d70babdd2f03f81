package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/cluster"
	"github.com/gatekeeper-sip/gatekeeper/internal/admin"
	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/media"
	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/registry"
	"github.com/gatekeeper-sip/gatekeeper/sip"
)

func newServeCmd() *cobra.Command {
	var clock string
	var unrecorded bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the SIP proxy (on the embedded example config when --config is not given)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			now, err := startClock(clock)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.Log.SlogLevel()}))
			if unrecorded {
				log.Warn("--unrecorded-for-benchmarks: NO DECISION AND NO CALL OUTCOME IS RECORDED IN THE AUDIT LOG; " +
					"this server proves nothing about its calls and is for measuring the audit log's cost only")
			}
			return serve(ctx, cfg, now, unrecorded, log)
		},
	}
	cmd.Flags().StringVar(&clock, "clock", "", "start the clock calls are decided by at this RFC 3339 time (tests only)")
	cmd.Flags().MarkHidden("clock")
	// docs/benchmarks.md: bench/run.sh's gatekeeper-noaudit compares the
	// audit log's cost (issue 10's 2,000 calls/s target) in one run.
	cmd.Flags().BoolVar(&unrecorded, "unrecorded-for-benchmarks", false, "record no decision or outcome (benchmarks only)")
	cmd.Flags().MarkHidden("unrecorded-for-benchmarks")
	return cmd
}

// serve runs the proxy until ctx ends, then drains: new INVITEs get 503,
// calls in flight finish (bounded by sip.drain_timeout), the audit log is
// flushed. It opens the parts in the order each needs the one before, and
// closes them in reverse. With unrecorded set the calls' decisions and
// outcomes are left out of the audit log (benchmarks only); they are decided
// and answered the same.
func serve(ctx context.Context, cfg *config.Config, now func() time.Time, unrecorded bool, log *slog.Logger) error {
	g := &gatekeeper{cfg: cfg, log: log, now: now, metrics: newMetrics(), unrecorded: unrecorded}
	defer g.close()
	for _, open := range []func() error{g.checkConfig, g.openMedia, g.openRegistry, g.openAudit, g.openCluster, g.openPolicy, g.openProxy, g.openMetrics, g.recordStart} {
		if err := open(); err != nil {
			return err
		}
	}
	g.openAdmin()
	if err := g.run(ctx); err != nil {
		return err
	}
	g.drain()
	return nil
}

// gatekeeper is the parts serve runs. Each open step adds what undoes it
// to closers, which close runs last first.
type gatekeeper struct {
	cfg       *config.Config
	log       *slog.Logger
	now       func() time.Time // the clock calls are decided by
	dataDir   string
	auditDir  string
	socket    string // the admin socket's path
	store     *registry.Store
	cluster   *cluster.Node // nil when alone
	rules     *livePolicy
	decisions *audit.Log
	gate      *recordGate
	// clusterGate refuses automated calls while the cluster cannot be
	// proven current (nil when alone).
	clusterGate *clusterGate
	proxy       *sip.Proxy
	relay       *media.Relay // nil unless some call's media is anchored
	countMu     sync.Mutex   // orders the abandonment counts as their outcome records (callEnded)
	metrics     *metrics
	// background ends when the parts close, after the proxy and the audit log:
	// it bounds the policy file's watchers and the metrics endpoint.
	background context.Context
	adminErr   chan error
	proxyErr   chan error
	stopProxy  context.CancelFunc
	closers    []func()
	// unrecorded leaves the calls' decisions and outcomes out of the audit
	// log, to measure what recording them costs (a hidden serve flag).
	unrecorded bool
}

func (g *gatekeeper) onClose(f func()) { g.closers = append(g.closers, f) }

func (g *gatekeeper) close() {
	for _, f := range slices.Backward(g.closers) {
		f()
	}
}

// checkConfig checks everything the admin wrote before any folder is created.
func (g *gatekeeper) checkConfig() error {
	if err := checkPolicyFile(g.cfg); err != nil {
		return err
	}
	listens, err := hostListens(g.cfg.SIP.Listen)
	if err != nil {
		return err
	}
	g.cfg.SIP.Listen = listens
	g.dataDir, g.socket, err = registryPaths(g.cfg, "")
	return err
}

// openRegistry opens the registry and fills its exchange cache in the
// background, so that no call pays a Badger read.
func (g *gatekeeper) openRegistry() error {
	if err := os.MkdirAll(g.dataDir, 0o750); err != nil {
		return err
	}
	store, err := registry.Open(storeOptions(g.cfg, g.dataDir))
	if err != nil {
		return fmt.Errorf("open registry %s: %w", g.dataDir, err)
	}
	g.store = store
	g.onClose(func() { store.Close() })
	warmCtx, stopWarming := context.WithCancel(context.Background())
	g.onClose(stopWarming)
	go func() {
		start := time.Now()
		if err := store.Warm(warmCtx); err != nil && warmCtx.Err() == nil {
			g.log.Warn("warming the registry cache", "error", err)
			return
		}
		g.log.Info("registry cache warm", "took", time.Since(start).Round(time.Millisecond))
	}()
	return nil
}

// openPolicy loads the policy file, reloads it on SIGHUP or when it is
// saved (recorded in the audit log from recordStart on), and watches the
// freshness of the lists its stale rules need.
func (g *gatekeeper) openPolicy() error {
	rules, err := loadLivePolicy(g.cfg, g.decisionRegistry(), g.log)
	if err != nil {
		return err
	}
	g.rules = rules
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	g.onClose(func() { signal.Stop(hup) })
	background, stop := context.WithCancel(context.Background())
	g.background = background
	g.onClose(stop)
	go rules.watch(background, hup, 2*time.Second)
	// A few in-memory reads: often enough that an import shows within seconds.
	go newFreshnessWatcher(rules, g.store, g.now, g.log).run(background, 5*time.Second)
	return nil
}

// recordStart records the policy in force in the audit log (trigger
// "start"), and every reload from then on, once every listener is open: a
// start that fails (an address in use) leaves no record of one that never
// served.
func (g *gatekeeper) recordStart() error {
	return g.rules.onLoad(g.recordPolicy)
}

// auditOptions are the audit log's folder, absolute, and its options as
// cfg sets them, with its signing key (created on first use).
func auditOptions(cfg *config.Config, log *slog.Logger) (string, audit.Options, error) {
	dir, err := filepath.Abs(cfg.Path(cfg.Audit.Dir))
	if err != nil {
		return "", audit.Options{}, err
	}
	signer, err := audit.LoadSigner(cfg.Path(cfg.Audit.Key), cfg.Audit.Origin)
	if err != nil {
		return "", audit.Options{}, fmt.Errorf("audit.key: %w", err)
	}
	a := cfg.Audit
	retain := time.Duration(a.Retain)
	if a.Retain == config.Forever {
		retain = -1
	}
	return dir, audit.Options{Logger: log, Version: buildVersion(), Signer: signer, FlushInterval: time.Duration(a.FlushInterval),
		MaxFileSize: int64(a.MaxFileSize), Uncompressed: !*a.Compress, Retain: retain}, nil
}

// openAudit opens the decision log before the cluster, so that the changes
// this node applies from the cluster while it catches up are recorded, and
// first records the versions in force whose import record a crash lost.
func (g *gatekeeper) openAudit() error {
	auditDir, opts, err := auditOptions(g.cfg, g.log)
	if err != nil {
		return err
	}
	g.auditDir = auditDir
	opts.OnWrite = func(d time.Duration) { g.metrics.auditWrite.Observe(d.Seconds()) }
	decisions, err := audit.Open(auditDir, opts)
	if err != nil {
		return fmt.Errorf("open audit log %s: %w", auditDir, err)
	}
	g.decisions = decisions
	g.onClose(func() {
		if err := decisions.Close(); err != nil {
			g.log.Error("closing the audit log", "error", err)
		}
	})
	if err := recordLostImports(decisions, g.now(), g.store, "serve", g.log); err != nil {
		return fmt.Errorf("record the versions in force in audit log %s: %w", auditDir, err)
	}
	return nil
}

// recordChange logs the data_change records of a change made through the admin socket.
func (g *gatekeeper) recordChange(c admin.Change) {
	if err := appendChange(g.decisions, g.now(), g.store, c); err != nil {
		g.log.Error("audit: a change through the admin socket was made, but its record failed", "error", err)
	}
}

// syncTimeout bounds how long a call's answer waits for its decision record
// with audit.sync: always (a disk that hangs); it then leaves, and the log
// says so.
const syncTimeout = 2 * time.Second

// openProxy makes the SIP proxy, deciding by the policy and sending every
// decision to the audit log and the metrics. No call is decided while the
// log cannot record it (recordGate); with audit.sync: always, an answer
// leaves only once its decision is on disk.
// openMedia starts the media relay when some call's media is anchored, with
// the campaigns' safe-harbor messages; it comes before anything is written,
// so that a message that is no WAV file changes nothing, and closes after
// the proxy.
func (g *gatekeeper) openMedia() error {
	if !g.cfg.AnchorsMedia() {
		return nil
	}
	m := g.cfg.Media
	relay, err := media.New(media.Config{Address: m.Addr, PortLow: m.PortLow, PortHigh: m.PortHigh,
		IdleTimeout: time.Duration(m.IdleTimeout), Logger: g.log})
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	g.relay = relay
	g.onClose(relay.Close)
	for i, c := range g.cfg.Campaigns {
		if c.SafeHarbor == "" {
			continue
		}
		if err := registerSafeHarbor(relay, c.ID, g.cfg.Path(c.SafeHarbor)); err != nil {
			return g.cfg.ErrorAt(fmt.Sprintf("$.campaigns[%d].safe_harbor", i), "campaigns[%d] (%s): safe_harbor: %v", i, c.ID, err)
		}
	}
	return nil
}

// registerSafeHarbor has the relay recognize campaign's safe-harbor message,
// the WAV file at path.
func registerSafeHarbor(relay *media.Relay, campaign, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := relay.SafeHarbor(campaign, f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// callEnded writes the outcome record of a call that ended and counts it
// for the abandonment accounting (abandonment.go).
func (g *gatekeeper) callEnded(e sip.CallEnd) {
	if e.Media != nil && e.Media.Outcome.LiveAnswered() {
		// The counted calls' records reach the log in the order they are
		// counted in, so that abandonment --check, which counts them again in
		// the log's order, starts each campaign's periods at the same call.
		g.countMu.Lock()
		defer g.countMu.Unlock()
	}
	if !g.unrecorded {
		if err := g.decisions.AppendEvent(audit.KindOutcome, e.Ended, outcomeOf(e)); err != nil {
			g.log.Error("audit: outcome record", "call_id", e.Call.CallID, "error", err)
		}
	}
	g.countAnswered(e)
}

func (g *gatekeeper) openProxy() error {
	pc := proxyConfig(g.cfg, g.log)
	pc.Now = g.now
	if g.relay != nil {
		pc.Media = g.relay
	}
	key, err := loadRouteKey(g.dataDir)
	if err != nil {
		return err
	}
	pc.RouteKey = key
	pc.OnCallEnd = g.callEnded
	g.gate = &recordGate{health: g.decisions.Health, onFailure: g.cfg.Audit.OnFailure, log: g.log}
	pc.Admit = func(call policy.Call) sip.Unavailable {
		switch {
		case g.clusterGate != nil && !g.clusterGate.admit(call):
			return sip.UnavailableCluster
		case !g.gate.admit(call):
			return sip.UnavailableUnrecorded
		}
		return ""
	}
	pc.Ready = func() bool { return len(g.unready()) == 0 }
	always := g.cfg.Audit.Sync == config.SyncAlways
	pc.SinkWaits = always
	proxy, err := sip.New(pc, timedDecider{g.rules, g.metrics.decide}, func(c policy.Call, d policy.Decision, status int) {
		r := auditRecord(c, d, status)
		switch {
		case g.unrecorded:
		case always:
			ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
			if err := g.decisions.AppendSync(ctx, r); err != nil {
				g.log.Error("audit: the answer leaves before its decision is on disk", "call_id", r.CallID, "error", err)
			}
			cancel()
		default:
			g.decisions.Append(r)
		}
		g.metrics.observe(r)
	})
	if err != nil {
		return err
	}
	g.proxy = proxy
	g.onClose(func() { proxy.Close() })
	// An address in use fails the start here, before the start is recorded.
	if err := proxy.Listen(); err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	return nil
}

// openMetrics watches the running parts and, with admin.http set, serves
// the metrics with the auditors' page, the health checks and profiles.
func (g *gatekeeper) openMetrics() error {
	g.metrics.watch(g.proxy, g.rules, g.decisions, g.store, g.now)
	g.metrics.watchMedia(g.relay)
	g.metrics.registry.MustRegister(g.gate.collectors()...)
	if g.clusterGate != nil {
		g.metrics.registry.MustRegister(g.clusterGate.collectors()...)
	}
	if g.cfg.Admin.HTTP == "" {
		return nil
	}
	// openAudit made the key, so the public key is there.
	verifier, err := audit.LoadVerifier(g.cfg.Path(g.cfg.Audit.Key) + ".pub")
	if err != nil {
		return fmt.Errorf("audit.key: %w", err)
	}
	web := &admin.Web{
		AuditDir: g.auditDir, Verifier: verifier, Lists: g.store.Lists, Region: g.cfg.DefaultRegion,
		Metrics: promhttp.HandlerFor(g.metrics.registry, promhttp.HandlerOpts{}), Token: g.cfg.Admin.Token, Now: g.now,
		Unready: g.readiness,
	}
	// Listening here makes a taken address a start-up error.
	l, err := net.Listen("tcp", g.cfg.Admin.HTTP)
	if err != nil {
		return fmt.Errorf("admin.http: %w", err)
	}
	go func() {
		if err := admin.ServeWeb(g.background, l, web.Handler(), g.log); err != nil {
			g.log.Error("admin http", "error", err)
		}
	}()
	return nil
}

// openAdmin serves the admin socket. It stops before the store closes, so
// no request in flight on the socket meets a closed registry.
func (g *gatekeeper) openAdmin() {
	ctx, stop := context.WithCancel(context.Background())
	g.adminErr = make(chan error, 1)
	done := make(chan struct{})
	go func() {
		g.adminErr <- admin.Serve(ctx, g.socket, admin.Logged(admin.NewHandler(g.store, admin.OnChange(g.recordChange), admin.ThroughCluster(g.shared()),
			admin.DeclaredLists(func(list string) error { return listCheck(g.rules.current.Load(), list) })), g.log))
		close(done)
	}()
	g.onClose(func() {
		stop()
		<-done
	})
}

// run serves SIP until ctx ends, or fails with the proxy's or the admin
// socket's error.
func (g *gatekeeper) run(ctx context.Context) error {
	proxyCtx, stopProxy := context.WithCancel(context.Background())
	g.stopProxy = stopProxy
	g.onClose(stopProxy)
	g.proxyErr = make(chan error, 1)
	go func() { g.proxyErr <- g.proxy.Serve(proxyCtx) }()
	select {
	case <-g.proxy.Ready():
		g.log.Info("gatekeeper is serving", "listen", g.cfg.SIP.Listen, "carrier", g.cfg.SIP.Carrier, "dialers", dialerSources(g.cfg.Dialers),
			"policy_sha256", g.rules.current.Load().SHA256(), "data_dir", g.dataDir, "audit_dir", g.auditDir, "admin", g.socket, "version", buildVersion(),
			"signals", "SIGHUP reloads the policy, SIGINT or SIGTERM drains the calls and stops")
	case err := <-g.proxyErr:
		return fmt.Errorf("sip: %w", err)
	}

	select {
	case <-ctx.Done():
	case err := <-g.proxyErr:
		return fmt.Errorf("sip: %w", err)
	case err := <-g.adminErr:
		if err != nil {
			return fmt.Errorf("admin socket %s: %w", g.socket, err)
		}
	}
	return nil
}

// cutTimeout bounds how long the INVITEs still in flight after the drain
// take to be answered 503; one still going is logged with status 0.
const cutTimeout = 2 * time.Second

// drain answers new INVITEs 503 while the calls in flight finish, bounded by
// sip.drain_timeout, cuts the calls left (every decision and outcome is
// reported before the audit log closes), then stops the SIP listeners.
func (g *gatekeeper) drain() {
	timeout := time.Duration(g.cfg.SIP.DrainTimeout)
	g.log.Info("draining: new calls get 503", "timeout", timeout)
	drainCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := g.proxy.Drain(drainCtx); err != nil {
		g.log.Warn("drain ended with calls in flight: they are cut, their decisions and outcomes logged", "error", err)
	}
	cutCtx, cancelCut := context.WithTimeout(context.Background(), cutTimeout)
	defer cancelCut()
	g.proxy.Cut(cutCtx)
	g.stopProxy()
	if err := <-g.proxyErr; err != nil && !errors.Is(err, context.Canceled) {
		g.log.Warn("sip listeners", "error", err)
	}
	g.log.Info("stopped")
}

// startClock is the real clock, or with start set a clock that starts at
// that moment and runs at real speed, so that tests can place calls at a
// given local time of the called party.
func startClock(start string) (func() time.Time, error) {
	if start == "" {
		return time.Now, nil
	}
	at, err := time.Parse(time.RFC3339, start)
	if err != nil {
		return nil, fmt.Errorf("--clock: %w", err)
	}
	offset := time.Until(at)
	return func() time.Time { return time.Now().Add(offset) }, nil
}

func proxyConfig(cfg *config.Config, log *slog.Logger) sip.Config {
	pc := sip.Config{
		Carrier:              cfg.SIP.Carrier,
		CarrierTransport:     cfg.SIP.CarrierTransport,
		TLS:                  cfg.SIP.TLS.Server,
		CarrierTLS:           cfg.SIP.TLS.Carrier,
		LargeRequestsOverUDP: cfg.SIP.LargeRequests == "udp",
		CampaignHeader:       cfg.SIP.CampaignHeader,
		DialModeHeader:       cfg.SIP.DialModeHeader,
		SellerHeader:         cfg.SIP.SellerHeader,
		PrerecordedHeader:    cfg.SIP.PrerecordedHeader,
		CampaignSellers:      campaignSellers(cfg),
		DefaultRegion:        cfg.DefaultRegion,
		Limits:               sip.Limits{PerSource: *cfg.SIP.Limits.PerSource, InFlight: *cfg.SIP.Limits.InFlight},
		DropStrangers:        cfg.SIP.Strangers == "drop",
		MediaChoice:          sip.MediaChoice{Default: cfg.Media.Anchor, Dialers: map[string]bool{}, Campaigns: map[string]bool{}},
		Logger:               log,
	}
	for _, c := range cfg.Campaigns {
		if c.Media != nil && c.Media.Anchor != nil {
			pc.MediaChoice.Campaigns[c.ID] = *c.Media.Anchor
		}
	}
	for _, l := range cfg.SIP.Listen {
		network, addr, _ := config.SplitListen(l) // checked when the config was loaded
		pc.Listen = append(pc.Listen, sip.Listener{Network: network, Addr: addr})
	}
	for _, s := range cfg.SIP.CarrierSources {
		pc.CarrierSources = append(pc.CarrierSources, s.Prefix)
	}
	for _, d := range cfg.Dialers {
		sd := sip.Dialer{Name: d.Name, Automated: d.Automated, Seller: d.Seller}
		if d.Media != nil && d.Media.Anchor != nil {
			pc.MediaChoice.Dialers[d.Name] = *d.Media.Anchor
		}
		if d.Auth != nil {
			sd.Auth = &sip.Credentials{Username: d.Auth.Username, Password: d.Auth.Password, Algorithms: d.Auth.Algorithms}
		}
		if a := d.AgentSignal; a != nil {
			sd.AgentSignal = &sip.AgentSignal{Header: a.Header, ContentType: a.ContentType, Body: a.Body}
		}
		for _, s := range d.Sources {
			sd.Sources = append(sd.Sources, s.Prefix)
		}
		pc.Dialers = append(pc.Dialers, sd)
	}
	return pc
}

// campaignSellers maps each configured campaign id to its seller.
func campaignSellers(cfg *config.Config) map[string]string {
	sellers := map[string]string{}
	for _, c := range cfg.Campaigns {
		sellers[c.ID] = c.Seller
	}
	return sellers
}

func auditRecord(c policy.Call, d policy.Decision, status int) audit.Record {
	place, _ := json.Marshal(d.Called) // plain strings and a time: cannot fail
	var trace []byte
	if len(d.Trace) > 0 {
		trace = d.Trace.AppendJSON(nil)
	}
	r := audit.Record{
		Time: c.Time, CallID: c.CallID, Decision: string(policy.Reject), Rule: d.Rule, Status: status, Reason: d.Reason,
		Called: c.Called, Caller: c.Caller, Dialer: c.Dialer, Campaign: c.Campaign, Source: c.Source,
		Mode: d.Mode, DialMode: dialMode(c.Automated), Monitor: d.Monitor, Error: d.Error, CalledPlace: place, Trace: trace, PolicySHA256: d.PolicySHA256,
		Cites: d.DataVersions(),
	}
	r.RoutingNumber, r.Seller, r.Prerecorded = c.RoutingNumber, c.Seller, c.Prerecorded
	// The record says what happened to the call; a monitored rule's
	// would-be answer goes beside it.
	if d.Forward() {
		r.Decision, r.Reason = string(policy.Allow), ""
	}
	if d.Monitor {
		r.Would = audit.Would{Decision: string(d.Action), Status: d.Status, Reason: d.Reason}
	}
	return r
}

// dialerSources says who may send calls: each dialer's name and sources,
// for the start-up line ("predictive 10.0.0.0/24 10.0.1.7/32; manual ...").
func dialerSources(dialers []config.Dialer) string {
	var b strings.Builder
	for i, d := range dialers {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(d.Name)
		for _, p := range d.Sources {
			b.WriteString(" " + p.String())
		}
	}
	return b.String()
}
