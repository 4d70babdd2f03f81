package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

func newConsentCmd() *cobra.Command {
	var flags registryFlags
	cmd := &cobra.Command{
		Use:   "consent",
		Short: "Import consent records, or add or revoke one at once",
		Long: `consent manages the called parties' consents to automated calls. import loads a
CSV file as a new version (the same as import --kind consent); add and revoke
change one number's consents at once, with effect from the next call, and stay
in force across later imports. Each change records who made it (the user this
command runs as), when and how. While ` + "`gatekeeper serve`" + ` runs, everything goes through it.`,
	}
	flags.register(cmd.PersistentFlags())

	var mapping []string
	var sourceDate string
	importCmd := &cobra.Command{
		Use:   "import [--map NAME=COLUMN] [--source-date YYYY-MM-DD] FILE...",
		Short: "Load consent records from CSV: number,seller,campaign,kind,granted_at,expires_at,revoked_at,evidence",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return importDataSet(cmd, &flags, registry.DataSetRequest{Kind: registry.KindConsent, Map: mapping, SourceDate: sourceDate}, args)
		},
	}
	importCmd.Flags().StringSliceVar(&mapping, "map", nil, "NAME=COLUMN: read a standard column from a column named otherwise")
	importCmd.Flags().StringVar(&sourceDate, "source-date", "", "the date the data is as of, YYYY-MM-DD")

	var req registry.ConsentRequest
	var at, expires string
	change := func(revoke bool) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			reg, cfg, err := flags.openShared(cmd)
			if err != nil {
				return err
			}
			defer reg.Close()
			r := req
			r.Revoke, r.By, r.Via = revoke, operator(), "cli"
			if r.Number, err = number.Normalize(args[0], cfg.DefaultRegion); err != nil {
				return err
			}
			for _, t := range []struct {
				flag string
				dst  *time.Time
			}{{at, &r.At}, {expires, &r.Expires}} {
				if t.flag == "" {
					continue
				}
				if *t.dst, err = parseWhen(t.flag); err != nil {
					return err
				}
			}
			c, err := reg.ChangeConsent(r)
			if err != nil {
				return err
			}
			printConsentChange(cmd.OutOrStdout(), c)
			return nil
		}
	}
	addCmd := &cobra.Command{
		Use:   "add --kind express|written [--seller S] [--campaign C] [--at TIME] [--expires TIME] [--evidence E] NUMBER",
		Short: "Record a consent for a number, in force at once",
		Args:  cobra.ExactArgs(1),
		RunE:  change(false),
	}
	revokeCmd := &cobra.Command{
		Use:   "revoke [--seller S] [--campaign C] [--at TIME] [--reason R] NUMBER",
		Short: "Revoke a number's consents (for a seller or campaign, or all), from the next call on",
		Args:  cobra.ExactArgs(1),
		RunE:  change(true),
	}
	for _, c := range []*cobra.Command{addCmd, revokeCmd} {
		fl := c.Flags()
		fl.StringVar(&req.Seller, "seller", "", "the seller (default: any)")
		fl.StringVar(&req.Campaign, "campaign", "", "the campaign (default: any)")
		fl.StringVar(&at, "at", "", "when it was granted or revoked: RFC 3339 or YYYY-MM-DD (default now)")
	}
	addCmd.Flags().StringVar(&req.Kind, "kind", "", "express or written")
	addCmd.Flags().StringVar(&expires, "expires", "", "when the consent ends: RFC 3339 or YYYY-MM-DD")
	addCmd.Flags().StringVar(&req.Evidence, "evidence", "", "where the proof is: a form id, a recording id")
	_ = addCmd.MarkFlagRequired("kind")
	revokeCmd.Flags().StringVar(&req.Reason, "reason", "", `why, e.g. "asked on the call of 2026-11-20"`)
	cmd.AddCommand(importCmd, addCmd, revokeCmd)
	return cmd
}

func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not RFC 3339 (2026-03-04T10:00:00-05:00) or YYYY-MM-DD", s)
}

func printConsentChange(w io.Writer, c registry.ConsentChange) {
	if c.Action == "add" {
		r := c.Record
		fmt.Fprintf(w, "%s  consent %s added: %s for seller %s, campaign %s, from %s\n", c.Number, r.ID, r.Kind, orAny(r.Seller), orAny(r.Campaign), r.GrantedAt.Format(time.RFC3339))
		return
	}
	fmt.Fprintf(w, "%s  consents revoked for seller %s, campaign %s, from %s (by %s)\n", c.Number, orAny(c.Seller), orAny(c.Campaign), c.At.Format(time.RFC3339), c.By)
}
