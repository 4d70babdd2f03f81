package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// freshnessWatcher says in the log when data a rule needs fresh is missing
// or turns stale, and when it is fresh again: with the shipped policy a
// missing national list refuses every call, which the log must show
// without anyone placing one.
type freshnessWatcher struct {
	rules *livePolicy
	reg   policy.Registry
	now   func() time.Time
	log   *slog.Logger
	said  map[string]string // rule and list -> what was last logged
}

func newFreshnessWatcher(rules *livePolicy, reg policy.Registry, now func() time.Time, log *slog.Logger) *freshnessWatcher {
	return &freshnessWatcher{rules: rules, reg: reg, now: now, log: log, said: map[string]string{}}
}

// run checks at once, then every interval until ctx ends.
func (w *freshnessWatcher) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		w.check()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check logs each requirement whose state changed since the last check:
// WARN when it is missing or stale, INFO when it is fresh again.
func (w *freshnessWatcher) check() {
	now := w.now()
	for _, f := range w.rules.current.Load().Freshness() {
		key := f.Rule + "\x00" + f.List
		state, version, asOf := listState(w.reg, f, now)
		imported, level := state != neverImported, slog.LevelInfo
		if state != fresh {
			level = slog.LevelWarn
		}
		if w.said[key] == state || (w.said[key] == "" && state == fresh) {
			w.said[key] = state
			continue
		}
		w.said[key] = state
		attrs := []any{"list", f.List, "rule", f.Rule, "older_than", days(f.OlderThan)}
		if imported {
			attrs = append(attrs, "version", version, "as_of", asOf.Format(time.DateOnly), "age", days(now.Sub(asOf)))
		}
		w.log.Log(context.Background(), level, freshnessMessage(f, state), attrs...)
	}
}

// The states of a list a stale rule needs.
const (
	fresh         = "fresh"
	stale         = "stale"
	neverImported = "never imported"
)

// listState is the state of the list f needs at now, with its version and
// the date its data is as of when it was imported.
func listState(reg policy.Registry, f policy.Freshness, now time.Time) (state string, version uint64, asOf time.Time) {
	version, asOf, imported := reg.ListDate(f.List)
	switch {
	case !imported:
		return neverImported, 0, time.Time{}
	case now.Sub(asOf) > f.OlderThan:
		return stale, version, asOf
	}
	return fresh, version, asOf
}

// staleLists names each list that a rule rejecting calls needs fresh and
// finds missing or stale, as "list ftc: stale (rule national-registry-stale)";
// none means the data lets calls be decided.
func staleLists(rules *livePolicy, reg policy.Registry, now time.Time) []string {
	var out []string
	for _, f := range rules.current.Load().Freshness() {
		if f.Monitor || f.Action != policy.Reject {
			continue
		}
		if state, _, _ := listState(reg, f, now); state != fresh {
			out = append(out, fmt.Sprintf("list %s: %s (rule %s)", f.List, state, f.Rule))
		}
	}
	return out
}

func freshnessMessage(f policy.Freshness, state string) string {
	effect := fmt.Sprintf("rule %s %ss calls", f.Rule, f.Action)
	if f.Monitor {
		effect = fmt.Sprintf("rule %s matches calls (monitor)", f.Rule)
	}
	switch state {
	case neverImported:
		return fmt.Sprintf("list %s was never imported: %s until it is", f.List, effect)
	case stale:
		return fmt.Sprintf("list %s is older than %s: %s until a fresh copy is imported", f.List, days(f.OlderThan), effect)
	}
	return fmt.Sprintf("list %s is fresh again: rule %s no longer matches for it", f.List, f.Rule)
}

// days shows a duration in whole days: 31d.
func days(d time.Duration) string { return fmt.Sprintf("%dd", d/(24*time.Hour)) }
