package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// dataSetAccess is what the CLI asks of the data sets beside the lists, from
// the store or through the running server (registryAccess embeds it).
type dataSetAccess interface {
	ImportDataSet(ctx context.Context, req registry.DataSetRequest) (registry.ListInfo, error)
	DataSets() ([]registry.ListInfo, error)
	NumberData(e164, routing string) (registry.NumberData, error)
	ChangeConsent(req registry.ConsentRequest) (registry.ConsentChange, error)
}

const kindsHelp = `
Kinds (--kind; default dnc, which needs --list):
  dnc                    a Do-Not-Call list, as above
  blocks                 thousands-block assignments: CSV with a header naming
                         npa,nxx,x,type,state (type wireless|landline|voip|pager|mixed
                         or C/S/V/P/M; x empty for the whole exchange); the area code
                         and exchange may also be one column npa-nxx (202-555) or
                         npa-nxx-x (202-555-0), or npa and VICIdial's prefix (NXX or
                         NXX+X), as in VICIdial's prefix file areacode,prefix,source,type,...
                         (with or without that header line)
  wireless-to-wireline   the intermodal port lists: one number per line; a full file
  wireline-to-wireless   replaces the list (and, like a DNC list, is refused when it would
                         remove more than import.max_removal without --replace), --delta
                         adds a daily file of the day's ports (and dates them, for the
                         15-day safe harbor)
  consent                number,seller,campaign,kind,granted_at,expires_at,revoked_at,evidence
                         (kind express|written; empty seller or campaign: any; times
                         RFC 3339 or YYYY-MM-DD)
  rnd                    FCC Reassigned Numbers Database answers: number,asked_on,answer,disconnected_on
                         (answer yes|no|no_data)
  ebr                    exemptions: number,seller,kind,date (kind purchase|inquiry|permission)
Header names are compared without case, spaces and punctuation, and the names the
field's files use are recognized too (area code, exchange, block_id, ltype, st; phone,
telephone, tn, mobile; company; opt-in date, ...: docs/registry.md lists them). Columns
named otherwise are mapped with --map NAME=COLUMN (repeatable), e.g. --map type=LTYPE;
in VICIdial's file without a header, --map type=5 names a position.`

// addKinds gives the import command its --kind and --map flags: a kind other
// than dnc imports that data set instead of a list.
func addKinds(cmd *cobra.Command, flags *registryFlags) {
	var kind string
	var mapping []string
	fl := cmd.Flags()
	fl.StringVar(&kind, "kind", registry.KindDNC, "what the files hold: "+strings.Join(registry.Kinds, ", "))
	fl.StringSliceVar(&mapping, "map", nil, "NAME=COLUMN: read a standard column from a column named otherwise")
	cmd.Use = "import [--kind KIND] [--list NAME] [--delta|--replace] [--format F] [--source-date YYYY-MM-DD] FILE..."
	cmd.Short = "Load a DNC list or a data set (blocks, port lists, consent, RND answers, exemptions) from files"
	cmd.Long += "\n" + kindsHelp
	listImport := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if !slices.Contains(registry.Kinds, kind) {
			return fmt.Errorf("--kind %q: use one of %s", kind, strings.Join(registry.Kinds, ", "))
		}
		if kind == registry.KindDNC {
			if len(mapping) > 0 {
				return fmt.Errorf("--map applies to the data set kinds, not to DNC lists (use --column)")
			}
			if !cmd.Flags().Changed("list") {
				return fmt.Errorf("--list is required with --kind dnc")
			}
			return listImport(cmd, args)
		}
		for _, f := range []string{"list", "format", "column", "skip-invalid", "invalid-report"} {
			if cmd.Flags().Changed(f) {
				return fmt.Errorf("--%s applies to --kind dnc only", f)
			}
		}
		sourceDate, _ := cmd.Flags().GetString("source-date")
		delta, _ := cmd.Flags().GetBool("delta")
		replace, _ := cmd.Flags().GetBool("replace")
		req := registry.DataSetRequest{Kind: kind, Map: mapping, SourceDate: sourceDate, Delta: delta, Replace: replace}
		return importDataSet(cmd, flags, req, args)
	}
}

// importDataSet imports a data set and prints what was imported.
func importDataSet(cmd *cobra.Command, flags *registryFlags, req registry.DataSetRequest, files []string) error {
	for _, a := range files {
		abs, err := filepath.Abs(a) // a server reads the files from its own working directory
		if err != nil {
			return err
		}
		req.Files = append(req.Files, abs)
	}
	reg, _, err := flags.open(cmd)
	if err != nil {
		return err
	}
	defer reg.Close()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	info, err := reg.ImportDataSet(ctx, req)
	if err != nil {
		return err
	}
	if req.Kind == registry.KindWirelessToWireline || req.Kind == registry.KindWirelineToWireless {
		printImport(cmd.OutOrStdout(), info, time.Since(start)) // a port list is a list
		return nil
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "imported %s: version %d, %d records, data as of %s (%s), took %s\n", info.Name, info.Version, info.Count,
		info.SourceDate, info.SourceDateFrom, time.Since(start).Round(time.Millisecond))
	for _, src := range info.Sources {
		fmt.Fprintf(w, "  %s  %d bytes  sha256 %s  (%s)\n", src.Name, src.Size, src.SHA256, src.Entries[0].Layout.Format)
	}
	return nil
}

// printDataSets shows the data sets beside the lists (the port lists are among the lists).
func printDataSets(w io.Writer, sets []registry.ListInfo, now time.Time) error {
	if len(sets) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DATA SET\tVERSION\tSOURCE DATE\tAGE\tRECORDS\tSIZE\tIMPORTED\tFILES")
	for _, s := range sets {
		names := make([]string, len(s.Sources))
		for i, src := range s.Sources {
			names[i] = filepath.Base(src.Name)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\n", s.Name, s.Version, s.SourceDate, age(now.Sub(s.AsOf())), s.Count,
			size(s.Bytes), s.ImportedAt.Format(time.RFC3339), strings.Join(names, ", "))
	}
	return tw.Flush()
}

// printNumberData shows a number's line type with its evidence, consents,
// RND answers and exemptions. A line type no data gave (unknown, from none)
// is left out, so that a registry of lists only shows lists (--json has it).
func printNumberData(w io.Writer, d registry.NumberData) {
	printLineType(w, d.LineType)
	printRecords(w, d)
}

func printLineType(w io.Writer, lt registry.LineType) {
	if lt.Source == registry.SourceNone {
		return
	}
	fmt.Fprintf(w, "  line type: %s (from %s", lt.Type, lt.Source)
	if lt.Detail != "" {
		fmt.Fprintf(w, ": %s", lt.Detail)
	}
	if lt.Block != 0 {
		fmt.Fprintf(w, " block %s", lt.Block)
	}
	if lt.State != "" {
		fmt.Fprintf(w, ", state %s", lt.State)
	}
	if lt.Version != 0 {
		fmt.Fprintf(w, ", version %d", lt.Version)
	}
	if !lt.PortedOn.IsZero() {
		fmt.Fprintf(w, ", ported %s", lt.PortedOn.Format(time.DateOnly))
	}
	fmt.Fprintln(w, ")")
}

func printRecords(w io.Writer, d registry.NumberData) {
	for _, c := range d.Consents {
		fmt.Fprintf(w, "  consent %s: %s for seller %s, campaign %s, granted %s", c.ID, c.Kind, orAny(c.Seller), orAny(c.Campaign), c.GrantedAt.Format(time.RFC3339))
		if !c.ExpiresAt.IsZero() {
			fmt.Fprintf(w, ", expires %s", c.ExpiresAt.Format(time.RFC3339))
		}
		if !c.RevokedAt.IsZero() {
			fmt.Fprintf(w, ", revoked %s", c.RevokedAt.Format(time.RFC3339))
		}
		if c.Evidence != "" {
			fmt.Fprintf(w, ", evidence %q", c.Evidence)
		}
		fmt.Fprintf(w, " (%s)\n", c.Source)
	}
	for _, r := range d.Revocations {
		fmt.Fprintf(w, "  consent revoked for seller %s, campaign %s at %s by %s via %s", orAny(r.Seller), orAny(r.Campaign), r.At.Format(time.RFC3339), r.By, r.Via)
		if r.Reason != "" {
			fmt.Fprintf(w, ": %q", r.Reason)
		}
		fmt.Fprintln(w)
	}
	for _, a := range d.RND {
		fmt.Fprintf(w, "  rnd %s: %s for %s", a.ID, a.Answer, a.AskedOn.Format(time.DateOnly))
		if !a.DisconnectedOn.IsZero() {
			fmt.Fprintf(w, ", disconnected %s", a.DisconnectedOn.Format(time.DateOnly))
		}
		fmt.Fprintf(w, " (%s)\n", a.Source)
	}
	for _, e := range d.Exemptions {
		fmt.Fprintf(w, "  exemption %s: %s with seller %s on %s (%s)\n", e.ID, e.Kind, orAny(e.Seller), e.Date.Format(time.DateOnly), e.Source)
	}
}

func orAny(s string) string {
	if s == "" {
		return "any"
	}
	return s
}
