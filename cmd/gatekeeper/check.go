package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/sip"
)

// checkCallerID is the caller ID of a check without --from: a valid number,
// so that a check is not rejected for a missing caller ID unless asked to be
// (--from ""). 202-555-0100 is in the range reserved for fiction.
const checkCallerID = "+12025550100"

// checkFlags are the facts of the call a check decides.
type checkFlags struct {
	to, from, campaign, seller, rn, at string
	manual, prerecorded, json          bool
}

func newCheckCmd() *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check --to NUMBER",
		Short: "Decide a call by the policy, as the proxy would, without placing it",
		Long: `check runs the policy and the registry for one call to NUMBER and prints the
decision, the rule that made it and the rules consulted, with the facts each
condition saw. The call comes from the first configured dialer, automated unless
that dialer is not or --manual is given, at the time of --at (default now), with
the caller ID of --from (default ` + checkCallerID + `, a valid number; --from ""
checks a call without caller ID). A check records no attempt.

The decision is what the proxy would do with the call: allow (forward it to
the carrier) or reject. A call a monitored rule would reject is forwarded: it
is an allow, with that rule's would-be answer beside it, as in the decision log.

Exit status: 0 allow (also a call forwarded under monitor), 1 reject, 2 error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("from") {
				f.from = checkCallerID
			}
			if err := f.readURI(); err != nil {
				return err
			}
			now := time.Now()
			if f.at != "" {
				var err error
				if now, err = time.Parse(time.RFC3339, f.at); err != nil {
					return fmt.Errorf("--at %q: want RFC 3339, e.g. 2026-03-04T20:30:00-05:00", f.at)
				}
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			policyName, policyText, err := readPolicyFile(cfg)
			if err != nil {
				return fmt.Errorf("policy: %w", err)
			}
			dir, _, err := registryPaths(cfg, "")
			if err != nil {
				return err
			}
			reg, err := openRegistry(cfg, "", true)
			if err != nil {
				return err
			}
			defer reg.Close()
			engine, err := policy.Parse(policyName, policyText, reg)
			if err != nil {
				return err
			}
			d := engine.Decide(cmd.Context(), checkCall(cfg, f, now))
			if f.json {
				err = printDecisionJSON(cmd.OutOrStdout(), d)
			} else {
				printDecision(cmd.OutOrStdout(), d)
				// A list "never imported" may be one imported into another folder.
				fmt.Fprintf(cmd.OutOrStdout(), "  registry %s\n", dir)
			}
			if err != nil {
				return err
			}
			if !d.Forward() {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.to, "to", "", "the called number as a dialer sends it, e.g. 2025550143, +1-202-555-0143, \"555-0143;phone-context=+1-202\" or a whole Request-URI (\"tel:555-0143;phone-context=+1-202\", \"sip:+12025550143@carrier;user=phone\")")
	fl.StringVar(&f.from, "from", "", `the caller ID sent (default a valid number; "" for none)`)
	fl.StringVar(&f.campaign, "campaign", "", "the campaign id")
	fl.StringVar(&f.seller, "seller", "", "the seller the call is made for")
	fl.StringVar(&f.rn, "rn", "", "the routing number (LRN) of an ;npdi;rn= dip")
	fl.StringVar(&f.at, "at", "", "decide as of this time, RFC 3339 (default now)")
	fl.BoolVar(&f.manual, "manual", false, "a call dialed by hand, not by the dialer")
	fl.BoolVar(&f.prerecorded, "prerecorded", false, "a call that plays a prerecorded or artificial voice")
	fl.BoolVar(&f.json, "json", false, "print the decision as one JSON object")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// readURI replaces a tel:, sip: or sips: URI in --to by the number it names,
// read as the proxy reads an INVITE's Request-URI, and takes the URI's rn=
// parameter as the routing number unless --rn gives one. The error is for
// such a URI that does not parse.
func (f *checkFlags) readURI() error {
	scheme, _, ok := strings.Cut(f.to, ":")
	if !ok || !slices.Contains([]string{"tel", "sip", "sips"}, strings.ToLower(scheme)) {
		return nil
	}
	called, rn, err := sip.CalledNumber(f.to)
	if err != nil {
		return fmt.Errorf("--to %q: %w", f.to, err)
	}
	f.to = called
	if f.rn == "" {
		f.rn = rn
	}
	return nil
}

// checkCall builds the facts the proxy would hand the policy for this call,
// as if its first dialer had sent it.
func checkCall(cfg *config.Config, f checkFlags, at time.Time) policy.Call {
	dialer := cfg.Dialers[0] // the config is refused without a dialer
	in := policy.CallInput{
		Called: f.to, Caller: f.from, RoutingNumber: f.rn,
		Campaign: f.campaign, Seller: f.seller, Prerecorded: strconv.FormatBool(f.prerecorded),
		Dialer:          policy.Dialer{Name: dialer.Name, Automated: dialer.Automated, Seller: dialer.Seller},
		CampaignSellers: campaignSellers(cfg), Region: cfg.DefaultRegion, Time: at,
	}
	if f.manual {
		in.DialMode = "manual"
	}
	return policy.NewCall(in)
}

// decisionJSON is the --json form of a decision, in the decision log's
// terms (audit.Record); other tools read it.
type decisionJSON struct {
	Decision     policy.Action `json:"decision"`
	Rule         string        `json:"rule"`
	Status       int           `json:"status"`
	Reason       string        `json:"reason,omitempty"`
	Monitor      bool          `json:"monitor"`
	Would        *audit.Would  `json:"would,omitempty"`
	Mode         string        `json:"mode"`
	RetryAfter   int           `json:"retry_after,omitempty"`
	Error        string        `json:"error,omitempty"`
	Called       policy.Place  `json:"called"`
	Trace        policy.Trace  `json:"trace"`
	PolicySHA256 string        `json:"policy_sha256"`
}

func printDecisionJSON(w io.Writer, d policy.Decision) error {
	trace := d.Trace
	if trace == nil {
		trace = policy.Trace{}
	}
	j := decisionJSON{Decision: d.Action, Rule: d.Rule, Status: d.Status, Reason: d.Reason,
		Monitor: d.Monitor, Mode: d.Mode, RetryAfter: d.RetryAfter, Error: d.Error, Called: d.Called,
		Trace: trace, PolicySHA256: d.PolicySHA256}
	if d.Monitor {
		j.Would = &audit.Would{Decision: string(d.Action), Status: d.Status, Reason: d.Reason}
		j.Decision, j.Status, j.Reason, j.RetryAfter = policy.Allow, 0, "", 0
	}
	return json.NewEncoder(w).Encode(j)
}

// printDecision writes the decision on its first line, for scripts, then
// why: where the called party is, the error that decided, if any, and each
// rule consulted with the facts its conditions saw.
func printDecision(w io.Writer, d policy.Decision) {
	switch {
	case d.Monitor:
		fmt.Fprintf(w, "allow (monitor: rule %s would reject %d %s)\n", d.Rule, d.Status, d.Reason)
	case d.Action == policy.Allow:
		fmt.Fprintf(w, "allow (rule %s)\n", d.Rule)
	case d.RetryAfter > 0:
		fmt.Fprintf(w, "reject %d %s, Retry-After %d (rule %s)\n", d.Status, d.Reason, d.RetryAfter, d.Rule)
	default:
		fmt.Fprintf(w, "reject %d %s (rule %s)\n", d.Status, d.Reason, d.Rule)
	}
	if p := d.Called; len(p.TimeZones) > 0 {
		fmt.Fprintf(w, "  called party: area code %s, state %s, zones %v, local time %s\n",
			orNone(p.AreaCode), orNone(p.State), p.TimeZones, p.LocalTime.Format("Mon 2006-01-02 15:04 MST"))
	}
	if d.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", d.Error)
	}
	for _, r := range d.Trace {
		outcome := "no match"
		if r.Matched {
			outcome = "match"
		}
		if r.Monitor {
			outcome += " (monitor)"
		}
		fmt.Fprintf(w, "  %s: %s", r.Rule, outcome)
		for _, c := range r.Conditions {
			fmt.Fprintf(w, "; %s %s", c.Kind, holds(c.Holds))
			if c.Value != "" || c.Version != 0 || c.Versions != nil || c.Count != 0 || c.Record != "" {
				fmt.Fprintf(w, " (%s)", conditionFacts(c))
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  policy sha256 %s\n", d.PolicySHA256)
}

// versionsText says which data versions a condition cites: "version 7",
// "versions 5, 6, 9", or "" for none.
func versionsText(c policy.ConditionTrace) string {
	versions := c.DataVersions()
	if len(versions) == 0 {
		return ""
	}
	s := "version"
	if len(versions) > 1 {
		s += "s"
	}
	sep := " "
	for _, v := range versions {
		s += sep + strconv.FormatUint(v, 10)
		sep = ", "
	}
	return s
}

// conditionFacts are what a condition saw, for check's output: its value,
// the data versions it cites, the record that answered, and the figure it
// compared (a list's age, a count), each only when there is one.
func conditionFacts(c policy.ConditionTrace) string {
	var facts []string
	add := func(s string) {
		if s != "" {
			facts = append(facts, s)
		}
	}
	add(c.Value)
	add(versionsText(c))
	if c.Record != "" {
		add("record " + c.Record)
	}
	switch {
	case c.Kind == "stale" && c.Version != 0 && c.Count < 0: // Count is the list's age in whole days
		add(fmt.Sprintf("dated %dd after the call", -c.Count))
	case c.Kind == "stale" && c.Version != 0:
		add(fmt.Sprintf("age %dd", c.Count))
	case c.Count != 0 || c.Kind == "attempts" && c.Value != policy.NoStateRule:
		add(fmt.Sprintf("count %d", c.Count))
	}
	return strings.Join(facts, " ")
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func holds(h bool) string {
	if h {
		return "holds"
	}
	return "does not hold"
}
