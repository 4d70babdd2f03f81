package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// livePolicy is the policy in force. A reload swaps it in one step: a call
// decides on whichever engine it loaded, so calls in flight are not affected.
type livePolicy struct {
	cfg     *config.Config
	reg     policy.Registry
	log     *slog.Logger
	current atomic.Pointer[policy.Engine]

	mu       sync.Mutex // one reload at a time
	lastText []byte
	failures atomic.Uint64
	// name and text are the file of the policy in force; loaded, when set,
	// is told of every policy put in force (onLoad).
	name   string
	text   []byte
	loaded func(name string, text []byte, e *policy.Engine, trigger string) error
}

func loadLivePolicy(cfg *config.Config, reg policy.Registry, log *slog.Logger) (*livePolicy, error) {
	lp := &livePolicy{cfg: cfg, reg: reg, log: log}
	name, text, err := readPolicyFile(cfg)
	if err != nil {
		return nil, err
	}
	engine, err := policy.Parse(name, text, reg)
	if err != nil {
		return nil, err
	}
	lp.current.Store(engine)
	lp.lastText, lp.name, lp.text = text, name, text
	return lp, nil
}

// onLoad calls loaded for the policy in force now (trigger "start") and then
// for every policy a reload is about to put in force, with the reload's
// trigger; a reload that loaded refuses leaves the running policy in force.
func (lp *livePolicy) onLoad(loaded func(name string, text []byte, e *policy.Engine, trigger string) error) error {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	lp.loaded = loaded
	return loaded(lp.name, lp.text, lp.current.Load(), "start")
}

func (lp *livePolicy) Decide(ctx context.Context, c policy.Call) policy.Decision {
	return lp.current.Load().Decide(ctx, c)
}

func (lp *livePolicy) Forwarded(ctx context.Context, c policy.Call) error {
	return lp.current.Load().Forwarded(ctx, c)
}

// reload reads the policy file again. An invalid file is refused with its
// line and column, and the running policy stays.
func (lp *livePolicy) reload(why string) {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	name, text, err := readPolicyFile(lp.cfg)
	if err == nil && bytes.Equal(text, lp.lastText) && why == "file changed" {
		return
	}
	var engine *policy.Engine
	if err == nil {
		engine, err = policy.Parse(name, text, lp.reg)
	}
	if err == nil && lp.loaded != nil {
		err = lp.loaded(name, text, engine, why)
	}
	if err != nil {
		lp.failures.Add(1)
		lp.log.Error("policy reload refused; the running policy stays", "trigger", why, "error", err,
			"policy_sha256", lp.current.Load().SHA256())
		lp.lastText = text
		return
	}
	lp.current.Store(engine)
	lp.lastText, lp.name, lp.text = text, name, text
	lp.log.Info("policy reloaded", "trigger", why, "policy", name, "policy_sha256", engine.SHA256(), "mode", engine.Mode())
}

// watch reloads on every signal from hup and whenever the file's size or
// modification time changes (checked every interval), until ctx ends.
// Polling needs no extra dependency and catches editors that replace the file.
func (lp *livePolicy) watch(ctx context.Context, hup <-chan os.Signal, interval time.Duration) {
	path := lp.cfg.Path(lp.cfg.Policy)
	if lp.cfg.Dir == "" {
		path = "" // the embedded policy never changes
	}
	last := fileStamp(path)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			lp.reload("SIGHUP")
			last = fileStamp(path)
		case <-tick.C:
			if now := fileStamp(path); path != "" && now != last {
				last = now
				lp.reload("file changed")
			}
		}
	}
}

type stamp struct {
	size    int64
	modTime time.Time
}

func fileStamp(path string) stamp {
	if path == "" {
		return stamp{}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}
	}
	return stamp{fi.Size(), fi.ModTime()}
}

// policyLoaded is the policy_loaded record (audit.KindPolicyLoaded): a policy
// put in force, whose text the audit folder keeps under its hash.
type policyLoaded struct {
	PolicySHA256 string `json:"policy_sha256"`
	File         string `json:"file"`
	Mode         string `json:"mode"`
	// Trigger is what put it in force: start, SIGHUP or "file changed".
	Trigger string `json:"trigger"`
}

// recordPolicy keeps the text of a policy about to be put in force in the
// audit folder and logs its policy_loaded record, so that every decision's
// policy_sha256 leads to the text that decided it (evidence bundles, policy
// replay). A text it cannot keep is not put in force.
func (g *gatekeeper) recordPolicy(name string, text []byte, e *policy.Engine, trigger string) error {
	if _, err := audit.ArchivePolicy(g.auditDir, text); err != nil {
		return fmt.Errorf("keeping the policy's text in %s: %w", g.auditDir, err)
	}
	r := policyLoaded{PolicySHA256: e.SHA256(), File: name, Mode: e.Mode(), Trigger: trigger}
	return g.decisions.AppendEvent(audit.KindPolicyLoaded, g.now(), r)
}
