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
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/internal/admin"
	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/registry"
	"github.com/gatekeeper-sip/gatekeeper/sip"
)

func newServeCmd() *cobra.Command {
	var clock string
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
			return serve(ctx, cfg, now, slog.New(slog.NewTextHandler(os.Stderr, nil)))
		},
	}
	cmd.Flags().StringVar(&clock, "clock", "", "start the clock calls are decided by at this RFC 3339 time (tests only)")
	cmd.Flags().MarkHidden("clock")
	return cmd
}

// serve runs the proxy until ctx ends, then drains: new INVITEs get 503,
// calls in flight finish (bounded by sip.drain_timeout), the audit log is flushed.
func serve(ctx context.Context, cfg *config.Config, now func() time.Time, log *slog.Logger) error {
	// Everything the admin wrote is checked before any folder is created.
	if err := checkPolicyFile(cfg); err != nil {
		return err
	}
	listens, err := hostListens(cfg.SIP.Listen)
	if err != nil {
		return err
	}
	cfg.SIP.Listen = listens
	dataDir, socket, err := registryPaths(cfg, "")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return err
	}
	store, err := registry.Open(storeOptions(cfg, dataDir))
	if err != nil {
		return fmt.Errorf("open registry %s: %w", dataDir, err)
	}
	defer store.Close()
	warmCtx, stopWarming := context.WithCancel(context.Background())
	defer stopWarming()
	go func() {
		// Fill the exchange cache so that no call pays a Badger read.
		start := time.Now()
		if err := store.Warm(warmCtx); err != nil && warmCtx.Err() == nil {
			log.Warn("warming the registry cache", "error", err)
			return
		}
		log.Info("registry cache warm", "took", time.Since(start).Round(time.Millisecond))
	}()

	rules, err := loadLivePolicy(cfg, store, log)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	go rules.watch(watchCtx, hup, 2*time.Second)
	// A few in-memory reads: often enough that an import shows within seconds.
	go newFreshnessWatcher(rules, store, now, log).run(watchCtx, 5*time.Second)

	auditDir, err := filepath.Abs(cfg.Path(cfg.Audit.Dir))
	if err != nil {
		return err
	}
	signer, err := audit.LoadSigner(cfg.Path(cfg.Audit.Key), cfg.Audit.Origin)
	if err != nil {
		return fmt.Errorf("audit.key: %w", err)
	}
	decisions, err := audit.Open(auditDir, audit.Options{Logger: log, Version: buildVersion(), Signer: signer})
	if err != nil {
		return fmt.Errorf("open audit log %s: %w", auditDir, err)
	}
	defer func() {
		if err := decisions.Close(); err != nil {
			log.Error("closing the audit log", "error", err)
		}
	}()

	var watch *metrics
	pc := proxyConfig(cfg, log)
	pc.Now = now
	proxy, err := sip.New(pc, rules, func(c policy.Call, d policy.Decision, status int) {
		r := auditRecord(c, d, status)
		decisions.Append(r)
		watch.observe(r)
	})
	if err != nil {
		return err
	}
	defer proxy.Close()
	watch = newMetrics(proxy, rules, decisions, store, now)
	if cfg.Admin.Metrics != "" {
		// Listening here makes a taken address a start-up error.
		l, err := net.Listen("tcp", cfg.Admin.Metrics)
		if err != nil {
			return fmt.Errorf("admin.metrics: %w", err)
		}
		go func() {
			if err := watch.serve(watchCtx, l, log); err != nil {
				log.Error("metrics endpoint", "error", err)
			}
		}()
	}

	// The admin endpoint stops before the store closes, so no request in
	// flight on the socket meets a closed registry.
	adminCtx, stopAdmin := context.WithCancel(context.Background())
	adminErr, adminDone := make(chan error, 1), make(chan struct{})
	go func() {
		adminErr <- admin.Serve(adminCtx, socket, admin.Logged(admin.NewHandler(store), log))
		close(adminDone)
	}()
	defer func() {
		stopAdmin()
		<-adminDone
	}()

	proxyCtx, stopProxy := context.WithCancel(context.Background())
	defer stopProxy()
	proxyErr := make(chan error, 1)
	go func() { proxyErr <- proxy.Serve(proxyCtx) }()
	select {
	case <-proxy.Ready():
		log.Info("gatekeeper is serving", "listen", cfg.SIP.Listen, "carrier", cfg.SIP.Carrier,
			"policy_sha256", rules.current.Load().SHA256(), "data_dir", dataDir, "audit_dir", auditDir, "admin", socket, "version", buildVersion())
	case err := <-proxyErr:
		return fmt.Errorf("sip: %w", err)
	}

	select {
	case <-ctx.Done():
	case err := <-proxyErr:
		return fmt.Errorf("sip: %w", err)
	case err := <-adminErr:
		if err != nil {
			return fmt.Errorf("admin socket %s: %w", socket, err)
		}
	}
	log.Info("draining: new calls get 503", "timeout", time.Duration(cfg.SIP.DrainTimeout))
	drainCtx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.SIP.DrainTimeout))
	defer cancel()
	if err := proxy.Drain(drainCtx); err != nil {
		log.Warn("drain ended with calls in flight", "error", err)
	}
	stopProxy()
	if err := <-proxyErr; err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("sip listeners", "error", err)
	}
	log.Info("stopped")
	return nil
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
		LargeRequestsOverUDP: cfg.SIP.LargeRequests == "udp",
		CampaignHeader:       cfg.SIP.CampaignHeader,
		DialModeHeader:       cfg.SIP.DialModeHeader,
		SellerHeader:         cfg.SIP.SellerHeader,
		PrerecordedHeader:    cfg.SIP.PrerecordedHeader,
		CampaignSellers:      campaignSellers(cfg),
		DefaultRegion:        cfg.DefaultRegion,
		Logger:               log,
	}
	for _, l := range cfg.SIP.Listen {
		network, addr, _ := config.SplitListen(l) // checked when the config was loaded
		pc.Listen = append(pc.Listen, sip.Listener{Network: network, Addr: addr})
	}
	for _, d := range cfg.Dialers {
		sd := sip.Dialer{Name: d.Name, Automated: d.Automated, Seller: d.Seller}
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
	dialMode := "manual"
	if c.Automated {
		dialMode = "automated"
	}
	place, _ := json.Marshal(d.Called) // plain strings and a time: cannot fail
	trace, _ := json.Marshal(d.Trace)
	r := audit.Record{
		Time: c.Time, CallID: c.CallID, Decision: string(policy.Reject), Rule: d.Rule, Status: status, Reason: d.Reason,
		Called: c.Called, Caller: c.Caller, Dialer: c.Dialer, Campaign: c.Campaign, Source: c.Source,
		Mode: d.Mode, DialMode: dialMode, Monitor: d.Monitor, Error: d.Error, CalledPlace: place, Trace: trace, PolicySHA256: d.PolicySHA256,
	}
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
