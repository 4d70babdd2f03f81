package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/config"
	"github.com/gatekeeper-sip/gatekeeper/number"
	"github.com/gatekeeper-sip/gatekeeper/policy"
)

func newCheckCmd() *cobra.Command {
	var configPath, to, from, campaign string
	var manual bool
	cmd := &cobra.Command{
		Use:   "check --to NUMBER",
		Short: "Decide a call by the policy, as the proxy would, without placing it",
		Long: `check runs the policy and the registry for one call to NUMBER and prints the
decision, the rule that made it and the rules consulted. The call comes from the
first configured dialer, automated unless that dialer is not or --manual is given.

Exit status: 0 allow, 1 reject (also a would-be reject in monitor mode), 2 error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			policyName, policyText, err := readPolicyFile(cfg)
			if err != nil {
				return fmt.Errorf("policy: %w", err)
			}
			reg, err := openRegistry(cfg, "")
			if err != nil {
				return err
			}
			defer reg.Close()
			engine, err := policy.Parse(policyName, policyText, reg)
			if err != nil {
				return err
			}
			d := engine.Decide(cmd.Context(), checkCall(cfg, to, from, campaign, manual, time.Now()))
			printDecision(cmd.OutOrStdout(), d)
			if d.Action == policy.Reject {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "gatekeeper.yaml (default: the embedded example)")
	f.StringVar(&to, "to", "", "the called number, e.g. 2025550143 or +12025550143")
	f.StringVar(&from, "from", "", "the caller ID sent")
	f.StringVar(&campaign, "campaign", "", "the campaign id")
	f.BoolVar(&manual, "manual", false, "a call dialed by hand, not by the dialer")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// checkCall builds the facts the proxy would hand the policy for this call.
func checkCall(cfg *config.Config, to, from, campaign string, manual bool, now time.Time) policy.Call {
	dialer := cfg.Dialers[0] // the config is refused without a dialer
	c := policy.Call{CalledRaw: to, Caller: from, Campaign: campaign, Dialer: dialer.Name,
		Automated: dialer.Automated && !manual, Time: now}
	if called, err := number.Normalize(to, cfg.DefaultRegion); err != nil {
		c.CalledErr = err.Error()
	} else {
		c.Called = called
	}
	if caller, err := number.Normalize(from, cfg.DefaultRegion); err == nil {
		c.Caller = caller
	}
	return c
}

// printDecision writes the decision on its first line, for scripts, then
// why: the error that decided it, if any, and each rule consulted.
func printDecision(w io.Writer, d policy.Decision) {
	switch {
	case d.Action == policy.Allow:
		fmt.Fprintf(w, "allow (rule %s", d.Rule)
	case d.RetryAfter > 0:
		fmt.Fprintf(w, "reject %d %s, Retry-After %d (rule %s", d.Status, d.Reason, d.RetryAfter, d.Rule)
	default:
		fmt.Fprintf(w, "reject %d %s (rule %s", d.Status, d.Reason, d.Rule)
	}
	if d.Monitor {
		fmt.Fprint(w, "; monitor mode: the call would be forwarded")
	}
	fmt.Fprintln(w, ")")
	if d.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", d.Error)
	}
	for _, r := range d.Trace {
		outcome := "no match"
		if r.Matched {
			outcome = "match"
		}
		fmt.Fprintf(w, "  %s: %s", r.Rule, outcome)
		for _, c := range r.Conditions {
			fmt.Fprintf(w, "; %s %s", c.Kind, holds(c.Holds))
			if c.Value != "" {
				fmt.Fprintf(w, " (%s)", c.Value)
			}
		}
		fmt.Fprintln(w)
	}
}

func holds(h bool) string {
	if h {
		return "holds"
	}
	return "does not hold"
}
