package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/policy"
)

type replayFlags struct {
	auditDir, since, until string
	samples                int
	utc, json              bool
}

func newPolicyReplayCmd() *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay [--audit DIR] [--since T] [--until T] NEW_POLICY.yaml",
		Short: "Decide the logged calls again under another policy and report which decisions would change",
		Long: `replay reads the decision records of the audit log (--audit, default the
config's audit.dir), builds each call's facts from its record (called number,
routing number, caller ID, dialer, campaign, seller, dial mode, prerecorded,
source, time) and decides it under NEW_POLICY.yaml, as the proxy would have at
the call's time. It prints how many calls keep their answer and how many change,
the changes counted by old answer -> new answer, the calls each rule decides
before and after, and sample changed calls.

The data is the registry as it is now (through the running server's admin
socket when one answers), not as it was at the call. A call's answer is marked
approximate when that may matter: a data version its recorded trace names is no
longer the current one (a list or data set was imported again since), its
recorded policy (audit/policies/<sha256>.yaml) decides it differently today
than the record says (a live opt-out, a consent given or revoked...), or its
record predates the seller, prerecorded and routing_number fields (they are
then taken from the config). Replaying under the policy that decided therefore
changes no call that is not marked approximate.

Frequency caps are not read from the registry's counters: the calls are
replayed in log order, and each call the new policy forwards counts as an
attempt for the calls after it. Calls in the caps' window before --since count
as the log says they were forwarded.

Exit status: 0 the replay ran (whatever changed), 2 error.`,
		Example: "  gatekeeper policy replay --since 2031-05-01 --until 2031-05-07 new-policy.yaml\n" +
			"  gatekeeper policy replay --audit /backup/audit --json new-policy.yaml",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if f.auditDir == "" {
				f.auditDir = cfg.Path(cfg.Audit.Dir)
			}
			since, until, err := replayWindow(f, time.Now())
			if err != nil {
				return err
			}
			text, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			reg, err := openRegistry(cfg, "", true)
			if err != nil {
				return err
			}
			defer reg.Close()
			r, err := newReplayer(cfg, reg, f.auditDir, args[0], text, f.samples)
			if err != nil {
				return err
			}
			report, err := r.run(cmd.Context(), since, until)
			if err != nil {
				return err
			}
			if f.json {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(report)
			}
			return report.print(cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.auditDir, "audit", "", "the audit folder to read (default the config's audit.dir)")
	fl.StringVar(&f.since, "since", "", "replay calls decided at or after: 2031-05-01, '2031-05-01 14:00' (local time), RFC 3339, today, yesterday, or a time ago (36h, 7d)")
	fl.StringVar(&f.until, "until", "", "replay calls decided before, in the forms of --since; a date alone includes that whole day")
	fl.BoolVar(&f.utc, "utc", false, "read --since and --until in UTC instead of local time")
	fl.IntVar(&f.samples, "samples", 10, "how many changed calls to show")
	fl.BoolVar(&f.json, "json", false, "print the report as one JSON object")
	return cmd
}

// replayWindow reads --since and --until as audit query does
// (audit.ParseTime); a bound not given is zero, open.
func replayWindow(f replayFlags, now time.Time) (since, until time.Time, err error) {
	zone := time.Local
	if f.utc {
		zone = time.UTC
	}
	if f.since != "" {
		if since, err = audit.ParseTime(f.since, zone, now, false); err != nil {
			return since, until, fmt.Errorf("--since: %w", err)
		}
	}
	if f.until != "" {
		if until, err = audit.ParseTime(f.until, zone, now, true); err != nil {
			return since, until, fmt.Errorf("--until: %w", err)
		}
	}
	return since, until, nil
}

// Reasons a replayed answer is approximate (replayReport.Approximate).
const (
	approxDataVersion    = "data_version"    // a data version the recorded trace names is no longer current
	approxRecordedPolicy = "recorded_policy" // the recorded policy decides the call differently today
	approxFactsMissing   = "facts_missing"   // the record predates seller, prerecorded and routing_number
)

// answer is what a decision did with a call, in the decision log's terms:
// allow or reject, the rule, the gatekeeper's status for a reject (the
// would-be status for a monitored call), and whether only monitored.
type answer struct {
	Decision string `json:"decision"`
	Rule     string `json:"rule"`
	Status   int    `json:"status,omitempty"`
	Monitor  bool   `json:"monitor,omitempty"`
}

func (a answer) String() string {
	switch {
	case a.Monitor:
		return fmt.Sprintf("%s (monitor: would reject %d)", a.Rule, a.Status)
	case a.Decision == string(policy.Reject):
		return fmt.Sprintf("%s reject %d", a.Rule, a.Status)
	}
	return a.Rule + " allow"
}

// recordedAnswer is the answer a decision record holds; an allowed call's
// status is the carrier's, not the policy's, and is left out.
func recordedAnswer(r *audit.Record) answer {
	a := answer{Decision: r.Decision, Rule: r.Rule, Monitor: r.Monitor}
	switch {
	case r.Monitor:
		a.Status = r.Would.Status
	case r.Decision == string(policy.Reject):
		a.Status = r.Status
	}
	return a
}

func decidedAnswer(d policy.Decision) answer {
	a := answer{Decision: string(policy.Reject), Rule: d.Rule, Status: d.Status, Monitor: d.Monitor}
	if d.Forward() {
		a.Decision = string(policy.Allow)
	}
	if d.Action == policy.Allow {
		a.Status = 0
	}
	return a
}

// replayReport is what a replay found; its JSON is the --json output.
type replayReport struct {
	AuditDir     string     `json:"audit_dir"`
	Policy       string     `json:"policy"`
	PolicySHA256 string     `json:"policy_sha256"`
	Since        *time.Time `json:"since,omitempty"`
	Until        *time.Time `json:"until,omitempty"`
	// Calls are the decisions replayed; Unchanged + Changed = Calls.
	Calls     int `json:"calls"`
	Unchanged int `json:"unchanged"`
	Changed   int `json:"changed"`
	// Approximate counts the calls whose new answer rests on data that is
	// not what it was at the call, ApproximateChanged those among the
	// changed; ApproximateBy counts them by reason (a call may have several).
	Approximate        int            `json:"approximate"`
	ApproximateChanged int            `json:"approximate_changed"`
	ApproximateBy      map[string]int `json:"approximate_by"`
	// StaleVersions are the data versions (import ids) the recorded traces
	// name that the registry no longer has as current.
	StaleVersions []uint64 `json:"stale_versions"`
	// PolicyNotArchived counts the calls whose recorded policy text is not in
	// the audit folder: for them only the data versions were compared.
	PolicyNotArchived int `json:"policy_not_archived"`
	// AttemptsFrom is where the frequency-cap counters start: --since less the
	// longest cap window of the new and the recorded policies (absent without
	// caps or --since).
	AttemptsFrom *time.Time `json:"attempts_from,omitempty"`
	Changes      []change   `json:"changes"`
	Rules        []ruleUse  `json:"rules"`
	Samples      []sample   `json:"samples"`

	samples   int
	stale     map[uint64]bool
	changes   map[[2]answer]*change
	rules     map[string]*ruleUse
	byChange  map[[2]answer][]sample
	changeSeq [][2]answer // the changes in the order first seen
}

// change counts the calls whose answer went from Old to New.
type change struct {
	Old   answer `json:"old"`
	New   answer `json:"new"`
	Calls int    `json:"calls"`
}

// ruleUse counts the calls a rule decided in the log (Old) and under the new policy (New).
type ruleUse struct {
	Rule string `json:"rule"`
	Old  int    `json:"old"`
	New  int    `json:"new"`
}

// sample is one changed call.
type sample struct {
	CallID      string    `json:"call_id"`
	Time        time.Time `json:"time"`
	Called      string    `json:"called"`
	Old         answer    `json:"old"`
	New         answer    `json:"new"`
	Approximate []string  `json:"approximate,omitempty"`
}

// countedRegistry is today's registry with frequency-cap counters of its
// own, which the replay fills in log order.
type countedRegistry struct {
	policy.Registry
	attempts *policy.AttemptLog
}

func (c countedRegistry) Attempts(name string, from, to time.Time) (int, error) {
	return c.attempts.Attempts(name, from, to)
}

func (c countedRegistry) RecordAttempt(name string, at time.Time, keep time.Duration, most int) error {
	return c.attempts.RecordAttempt(name, at, keep, most)
}

// replayer decides logged calls under a new policy, and under the policies
// that decided them, against today's registry.
type replayer struct {
	cfg      *config.Config
	sellers  map[string]string
	dir      string
	next     *policy.Engine
	reg      policy.Registry
	recorded countedRegistry // shared by the recorded policies: the attempts as the log tells them
	engines  map[string]*policy.Engine
	current  map[uint64]bool // the data versions the registry holds now
	report   *replayReport
}

func newReplayer(cfg *config.Config, reg registryAccess, dir, name string, text []byte, samples int) (*replayer, error) {
	if err := checkAuditDir(dir); err != nil {
		return nil, err
	}
	next, err := policy.Parse(name, text, countedRegistry{reg, policy.NewAttemptLog()})
	if err != nil {
		return nil, err
	}
	current := map[uint64]bool{}
	lists, err := reg.Lists()
	if err != nil {
		return nil, err
	}
	sets, err := reg.DataSets()
	if err != nil {
		return nil, err
	}
	for _, l := range append(lists, sets...) {
		current[l.Version] = true
	}
	r := &replayer{
		cfg: cfg, sellers: campaignSellers(cfg), dir: dir, next: next, reg: reg,
		recorded: countedRegistry{reg, policy.NewAttemptLog()}, engines: map[string]*policy.Engine{}, current: current,
		report: &replayReport{AuditDir: dir, Policy: name, PolicySHA256: next.SHA256(), ApproximateBy: map[string]int{},
			samples: samples, stale: map[uint64]bool{}, changes: map[[2]answer]*change{}, rules: map[string]*ruleUse{},
			byChange: map[[2]answer][]sample{}},
	}
	return r, r.loadRecordedPolicies()
}

// run replays the calls decided in [since, until); a zero bound is open.
func (r *replayer) run(ctx context.Context, since, until time.Time) (*replayReport, error) {
	rep := r.report
	q := audit.Query{Since: since, Until: until}
	if !since.IsZero() {
		rep.Since = &since
		if window := r.attemptsWindow(); window > 0 {
			q.Since = since.Add(-window)
			rep.AttemptsFrom = &q.Since
		}
	}
	if !until.IsZero() {
		rep.Until = &until
	}
	for c, err := range audit.Search(r.dir, q) {
		if err != nil {
			return nil, err
		}
		if err := r.replay(ctx, &c, c.Decision.Time.Before(since)); err != nil {
			return nil, err
		}
	}
	rep.finish()
	return rep, nil
}

// replay decides one logged call again; a call before --since (warmUp)
// only counts as an attempt, as it was forwarded then.
func (r *replayer) replay(ctx context.Context, c *audit.Call, warmUp bool) error {
	rec := &c.Decision
	call := r.call(rec)
	old := recordedAnswer(rec)
	forwarded := old.Decision == string(policy.Allow)
	recorded := r.engines[rec.PolicySHA256]
	if warmUp {
		if forwarded {
			return errors.Join(r.next.Forwarded(ctx, call), forwardedUnder(ctx, recorded, call))
		}
		return nil
	}
	var approx []string
	if stale := r.staleVersions(rec); len(stale) > 0 {
		approx = append(approx, approxDataVersion)
	}
	if recorded == nil {
		r.report.PolicyNotArchived++
	} else if decidedAnswer(recorded.Decide(ctx, call)) != old {
		approx = append(approx, approxRecordedPolicy)
	}
	if !hasCallFacts(c.DecisionLine) {
		approx = append(approx, approxFactsMissing)
	}
	d := r.next.Decide(ctx, call)
	if d.Forward() {
		if err := r.next.Forwarded(ctx, call); err != nil {
			return err
		}
	}
	if forwarded {
		if err := forwardedUnder(ctx, recorded, call); err != nil {
			return err
		}
	}
	r.report.add(rec, old, decidedAnswer(d), approx)
	return nil
}

// forwardedUnder counts a forwarded call as an attempt under engine e, if any.
func forwardedUnder(ctx context.Context, e *policy.Engine, call policy.Call) error {
	if e == nil {
		return nil
	}
	return e.Forwarded(ctx, call)
}

// call builds the call's facts from its record, as the proxy built them
// from the INVITE: the same reading (policy.NewCall) of the same strings,
// with the dialer's and campaign's defaults from the config.
func (r *replayer) call(rec *audit.Record) policy.Call {
	in := policy.CallInput{
		CallID: rec.CallID, Source: rec.Source, Called: rec.Called, RoutingNumber: rec.RoutingNumber,
		Caller: rec.Caller, Campaign: rec.Campaign, Seller: rec.Seller, DialMode: rec.DialMode,
		Prerecorded: strconv.FormatBool(rec.Prerecorded), Dialer: policy.Dialer{Name: rec.Dialer},
		CampaignSellers: r.sellers, Region: r.cfg.DefaultRegion, Time: rec.Time,
	}
	for _, d := range r.cfg.Dialers {
		if d.Name == rec.Dialer {
			in.Dialer = policy.Dialer{Name: d.Name, Automated: d.Automated, Seller: d.Seller}
		}
	}
	return policy.NewCall(in)
}

// hasCallFacts tells whether a decision line holds every fact of its call:
// records written before seller, prerecorded and routing_number joined them
// do not. Those after wrote the seller, "" when none, until the compact
// trace came, and with it the seller left out when none.
func hasCallFacts(line []byte) bool {
	var f struct {
		Seller *string         `json:"seller"`
		Trace  json.RawMessage `json:"trace"`
	}
	return json.Unmarshal(line, &f) == nil && (f.Seller != nil || bytes.HasPrefix(f.Trace, []byte("{")))
}

// staleVersions are the data versions the record's trace names that are no
// longer current; they are also added to the report.
func (r *replayer) staleVersions(rec *audit.Record) []uint64 {
	var trace policy.Trace
	if len(rec.Trace) == 0 || json.Unmarshal(rec.Trace, &trace) != nil {
		return nil
	}
	var stale []uint64
	for _, rule := range trace {
		for _, c := range rule.Conditions {
			for _, v := range c.DataVersions() {
				if !r.current[v] {
					stale = append(stale, v)
					r.report.stale[v] = true
				}
			}
		}
	}
	return stale
}

// loadRecordedPolicies reads every policy text the audit folder keeps
// (audit.PoliciesDir, <sha256>.yaml), the policies that decided the calls.
// A policy of an older build may no longer parse: the calls it decided are
// then compared by their data versions only, like those whose text is missing.
func (r *replayer) loadRecordedPolicies() error {
	paths, err := filepath.Glob(filepath.Join(r.dir, audit.PoliciesDir, "*.yaml"))
	if err != nil {
		return err
	}
	for _, path := range paths {
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if e, err := policy.Parse(path, text, r.recorded); err == nil {
			r.engines[e.SHA256()] = e
		}
	}
	return nil
}

// attemptsWindow is how far back the caps of the new and the recorded policies look.
func (r *replayer) attemptsWindow() time.Duration {
	window := r.next.AttemptsWindow()
	for _, e := range r.engines {
		window = max(window, e.AttemptsWindow())
	}
	return window
}

func (rep *replayReport) add(rec *audit.Record, old, next answer, approx []string) {
	rep.Calls++
	for _, reason := range approx {
		rep.ApproximateBy[reason]++
	}
	if len(approx) > 0 {
		rep.Approximate++
	}
	rep.rule(old.Rule).Old++
	rep.rule(next.Rule).New++
	if old == next {
		rep.Unchanged++
		return
	}
	rep.Changed++
	if len(approx) > 0 {
		rep.ApproximateChanged++
	}
	key := [2]answer{old, next}
	ch := rep.changes[key]
	if ch == nil {
		ch = &change{Old: old, New: next}
		rep.changes[key] = ch
		rep.changeSeq = append(rep.changeSeq, key)
	}
	ch.Calls++
	if len(rep.byChange[key]) < rep.samples {
		rep.byChange[key] = append(rep.byChange[key], sample{CallID: rec.CallID, Time: rec.Time, Called: rec.Called,
			Old: old, New: next, Approximate: approx})
	}
}

func (rep *replayReport) rule(name string) *ruleUse {
	u := rep.rules[name]
	if u == nil {
		u = &ruleUse{Rule: name}
		rep.rules[name] = u
	}
	return u
}

// finish orders the counts: changes by calls, most first; rules by name;
// samples taken from each change in turn, so that every change shows.
func (rep *replayReport) finish() {
	rep.Changes, rep.Rules, rep.Samples = []change{}, []ruleUse{}, []sample{}
	for _, key := range rep.changeSeq {
		rep.Changes = append(rep.Changes, *rep.changes[key])
	}
	slices.SortStableFunc(rep.Changes, func(a, b change) int { return b.Calls - a.Calls })
	for _, u := range rep.rules {
		rep.Rules = append(rep.Rules, *u)
	}
	slices.SortFunc(rep.Rules, func(a, b ruleUse) int { return strings.Compare(a.Rule, b.Rule) })
	for i := 0; len(rep.Samples) < rep.samples; i++ {
		took := false
		for _, ch := range rep.Changes {
			if s := rep.byChange[[2]answer{ch.Old, ch.New}]; i < len(s) && len(rep.Samples) < rep.samples {
				rep.Samples = append(rep.Samples, s[i])
				took = true
			}
		}
		if !took {
			break
		}
	}
	slices.SortFunc(rep.Samples, func(a, b sample) int { return a.Time.Compare(b.Time) })
	rep.StaleVersions = []uint64{}
	for v := range rep.stale {
		rep.StaleVersions = append(rep.StaleVersions, v)
	}
	slices.Sort(rep.StaleVersions)
}

// print writes the report for a person: the counts, what is approximate and
// why, the changes, the rules, and the sample calls.
func (rep *replayReport) print(w io.Writer) error {
	window := "the whole log"
	if rep.Since != nil || rep.Until != nil {
		window = "calls from " + timeOrOpen(rep.Since) + " until " + timeOrOpen(rep.Until)
	}
	fmt.Fprintf(w, "replayed %s in %s under %s (sha256 %.12s)\n", window, rep.AuditDir, rep.Policy, rep.PolicySHA256)
	fmt.Fprintf(w, "  calls %d, unchanged %d, changed %d\n", rep.Calls, rep.Unchanged, rep.Changed)
	fmt.Fprintf(w, "  approximate %d (%d of the changed): decided on today's data, which differs from the call's\n",
		rep.Approximate, rep.ApproximateChanged)
	if n := rep.ApproximateBy[approxDataVersion]; n > 0 {
		fmt.Fprintf(w, "    %d: a data version the trace names was replaced since (versions %v)\n", n, rep.StaleVersions)
	}
	if n := rep.ApproximateBy[approxRecordedPolicy]; n > 0 {
		fmt.Fprintf(w, "    %d: the policy that decided the call decides it otherwise today (live changes, consent, counters)\n", n)
	}
	if n := rep.ApproximateBy[approxFactsMissing]; n > 0 {
		fmt.Fprintf(w, "    %d: the record has no seller, prerecorded or routing number: taken from the config\n", n)
	}
	if rep.PolicyNotArchived > 0 {
		fmt.Fprintf(w, "    %d calls' policy text is not in %s/%s: only their data versions were compared\n",
			rep.PolicyNotArchived, rep.AuditDir, audit.PoliciesDir)
	}
	caps := "frequency caps: the calls replayed in log order, each call the new policy forwards counts as an attempt"
	if rep.AttemptsFrom != nil {
		caps += "; calls from " + rep.AttemptsFrom.UTC().Format(time.RFC3339) + " count as the log says they were forwarded"
	}
	fmt.Fprintln(w, "  "+caps)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(rep.Changes) > 0 {
		fmt.Fprintln(tw, "\nold answer\t\tnew answer\tcalls")
		for _, ch := range rep.Changes {
			fmt.Fprintf(tw, "%s\t->\t%s\t%d\n", ch.Old, ch.New, ch.Calls)
		}
	}
	fmt.Fprintln(tw, "\nrule\told\tnew")
	for _, u := range rep.Rules {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", u.Rule, u.Old, u.New)
	}
	if len(rep.Samples) > 0 {
		fmt.Fprintln(tw, "\ncall-id\ttime\tcalled\told\tnew\tapproximate")
		for _, s := range rep.Samples {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.CallID, s.Time.UTC().Format(time.RFC3339), s.Called, s.Old, s.New,
				cmp.Or(strings.Join(s.Approximate, ","), "-"))
		}
	}
	return tw.Flush()
}

func timeOrOpen(t *time.Time) string {
	if t == nil {
		return "(open)"
	}
	return t.UTC().Format(time.RFC3339)
}
