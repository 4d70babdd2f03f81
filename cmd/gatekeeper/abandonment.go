package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/media"
	"github.com/gatekeeper-sip/gatekeeper/registry"
	"github.com/gatekeeper-sip/gatekeeper/sip"
)

func newAbandonmentCmd() *cobra.Command {
	var flags registryFlags
	var campaign, auditDir string
	var asJSON, fromAudit bool
	cmd := &cobra.Command{
		Use:   "abandonment [--campaign C] [--json] [--check [--audit DIR]]",
		Short: "Show each campaign's live-answered and abandoned calls per 30-day period, and its abandonment rate",
		Long: `abandonment shows, per campaign and 30-day period, the calls a person answered
(live-answered), those abandoned (no live agent within 2 seconds of the
greeting, 16 CFR 310.4(b)(1)(iv)), their rate, and how many abandoned calls
played the campaign's safe-harbor message. The safe harbor of 16 CFR
310.4(b)(4)(i) allows at most 3 % per campaign over each 30-day period.

Periods are cut every 30 days (of 24 hours) from the answer of the
campaign's first live-answered call: a campaign shorter than 30 days has one
period, its life. Only calls whose media the gatekeeper anchored are
counted (docs/media.md); a period nobody was answered in is not shown.

It reads the registry of a stopped gatekeeper, or asks the running one
through its admin socket.

With --check it counts the same periods again from the audit log's
outcome records (each anchored call's verdict, hash-chained), prints
those, and fails when the registry's counts differ from them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, cfg, dir, err := flags.read(cmd)
			if err != nil {
				return err
			}
			defer reg.Close()
			periods, err := reg.AbandonmentPeriods()
			if err != nil {
				return err
			}
			stored := periods
			if fromAudit {
				if auditDir == "" {
					auditDir = cfg.Path(cfg.Audit.Dir)
				}
				if periods, err = auditedPeriods(auditDir); err != nil {
					return fmt.Errorf("audit log %s: %w", auditDir, err)
				}
				dir = auditDir
			}
			if cmd.Flags().Changed("campaign") {
				periods, stored = campaignPeriods(periods, campaign), campaignPeriods(stored, campaign)
			}
			if asJSON {
				err = writeAbandonmentJSON(cmd.OutOrStdout(), periods)
			} else {
				err = printAbandonment(cmd.OutOrStdout(), periods, dir)
			}
			if err != nil || !fromAudit {
				return err
			}
			return samePeriods(stored, periods)
		},
	}
	flags.add(cmd)
	cmd.Flags().StringVar(&campaign, "campaign", "", `only this campaign ("" for calls without one)`)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the periods as JSON, one object each in a list")
	cmd.Flags().BoolVar(&fromAudit, "check", false, "count from the audit log's outcome records and fail when the registry differs")
	cmd.Flags().StringVar(&auditDir, "audit", "", "with --check, the audit folder to read (default the config's audit.dir)")
	return cmd
}

// auditedPeriods counts the periods from the outcome records in the audit
// log in dir: the live-answered anchored calls, in the order their records
// were written, which is the order serve counted them in.
func auditedPeriods(dir string) ([]registry.AbandonmentPeriod, error) {
	type counted struct {
		seq  uint64
		call registry.AnsweredCall
	}
	var calls []counted
	for c, err := range audit.Search(dir, audit.Query{}) {
		if err != nil {
			return nil, err
		}
		o := c.Outcome
		if o == nil || o.Media == nil || o.Answered == nil {
			continue
		}
		if v := media.Outcome(o.Media.Verdict); v.LiveAnswered() {
			calls = append(calls, counted{o.Seq, registry.AnsweredCall{Campaign: o.Campaign, Answered: o.Answered.Time,
				Abandoned: v.Abandoned(), SafeHarbor: v == media.AbandonedSafeHarbor}})
		}
	}
	slices.SortFunc(calls, func(a, b counted) int { return cmp.Compare(a.seq, b.seq) })
	answered := make([]registry.AnsweredCall, len(calls))
	for i, c := range calls {
		answered[i] = c.call
	}
	return registry.TallyAnsweredCalls(answered), nil
}

// samePeriods is nil when the registry's periods hold the counts the audit
// log's do, else an error naming each period that differs.
func samePeriods(stored, audited []registry.AbandonmentPeriod) error {
	key := func(p registry.AbandonmentPeriod) string {
		return fmt.Sprintf("campaign %q period %d", p.Campaign, p.Index+1)
	}
	counts := func(p registry.AbandonmentPeriod) string {
		return fmt.Sprintf("%d live-answered, %d abandoned, %d safe-harbor from %s", p.LiveAnswered, p.Abandoned, p.SafeHarbor,
			p.Start.UTC().Format(time.RFC3339Nano))
	}
	inStore := map[string]string{}
	for _, p := range stored {
		inStore[key(p)] = counts(p)
	}
	var diffs []string
	for _, p := range audited {
		k := key(p)
		if got, want := inStore[k], counts(p); got != want {
			diffs = append(diffs, fmt.Sprintf("%s: the registry has %s, the audit log %s", k, cmp.Or(got, "nothing"), want))
		}
		delete(inStore, k)
	}
	for k, got := range inStore {
		diffs = append(diffs, fmt.Sprintf("%s: the registry has %s, the audit log nothing", k, got))
	}
	if len(diffs) == 0 {
		return nil
	}
	slices.Sort(diffs)
	return fmt.Errorf("the registry's abandonment counts differ from the audit log:\n  %s", strings.Join(diffs, "\n  "))
}

func campaignPeriods(periods []registry.AbandonmentPeriod, campaign string) []registry.AbandonmentPeriod {
	var out []registry.AbandonmentPeriod
	for _, p := range periods {
		if p.Campaign == campaign {
			out = append(out, p)
		}
	}
	return out
}

// abandonmentRow is a period as --json prints it: the registry's counts
// and their rate, a share from 0 to 1.
type abandonmentRow struct {
	registry.AbandonmentPeriod
	Rate float64 `json:"rate"`
}

func writeAbandonmentJSON(w io.Writer, periods []registry.AbandonmentPeriod) error {
	rows := make([]abandonmentRow, len(periods))
	for i, p := range periods {
		rows[i] = abandonmentRow{AbandonmentPeriod: p, Rate: p.Rate()}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}

func printAbandonment(w io.Writer, periods []registry.AbandonmentPeriod, dir string) error {
	if len(periods) == 0 {
		_, err := fmt.Fprintf(w, "no live-answered calls counted in %s (only calls whose media is anchored are counted)\n", dir)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CAMPAIGN\tPERIOD\tSTART\tEND\tLIVE-ANSWERED\tABANDONED\tRATE\tSAFE-HARBOR PLAYS")
	for _, p := range periods {
		campaign := p.Campaign
		if campaign == "" {
			campaign = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%.2f%%\t%d\n", campaign, p.Index+1, p.Start.UTC().Format(time.RFC3339),
			p.End.UTC().Format(time.RFC3339), p.LiveAnswered, p.Abandoned, 100*p.Rate(), p.SafeHarbor)
	}
	return tw.Flush()
}

// countAnswered adds an anchored call that a person answered to its
// campaign's abandonment accounting, after its outcome record was written:
// live-answered, and abandoned or not as its media showed.
func (g *gatekeeper) countAnswered(e sip.CallEnd) {
	v := e.Media
	if v == nil || !v.Outcome.LiveAnswered() {
		return
	}
	err := g.store.CountAnsweredCall(registry.AnsweredCall{Campaign: e.Call.Campaign, Answered: e.Answered,
		Abandoned: v.Outcome.Abandoned(), SafeHarbor: v.Outcome == media.AbandonedSafeHarbor})
	if err != nil {
		g.log.Error("abandonment accounting: the call is not counted", "call_id", e.Call.CallID, "campaign", e.Call.Campaign, "error", err)
	}
}
