package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

func newLookupCmd() *cobra.Command {
	var flags registryFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "lookup [--json] NUMBER...",
		Short: "Show which lists hold each number, its live changes, line type, consents, RND answers and exemptions",
		Long: `lookup shows, for each NUMBER, the lists that hold it with their versions, the
live changes (gatekeeper dnc) in force for it and every live change ever made to
it: who, when, how and why. With --json it prints one object per number and line:
  {"number": E.164, "lists": [names], "versions": {name: version},
   "live": [changes in force], "history": [every change, oldest first],
   "line_type": {"type", "source", "detail", "block", "version", "state", "ported_on"},
   "consents": [...], "revocations": [...], "rnd": [...], "exemptions": [...]}
A number that cannot be read is reported on stderr and the exit status is 2.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, cfg, dir, err := flags.read(cmd)
			if err != nil {
				return err
			}
			defer reg.Close()
			if lists, err := reg.Lists(); err == nil && len(lists) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "gatekeeper: lookup:", noListsIn(dir))
			}
			unreadable := 0
			for _, raw := range args {
				e164, err := number.Normalize(raw, cfg.DefaultRegion)
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "gatekeeper: lookup:", err)
					unreadable++
					continue
				}
				report, err := reg.Lookup(e164)
				if err != nil {
					return err
				}
				data, err := reg.NumberData(e164, "")
				if err != nil {
					return err
				}
				if asJSON {
					err = printLookupJSON(cmd.OutOrStdout(), report, data)
				} else {
					printLookup(cmd.OutOrStdout(), report)
					printNumberData(cmd.OutOrStdout(), data) // kinds.go
				}
				if err != nil {
					return err
				}
			}
			if unreadable > 0 {
				return fmt.Errorf("%d of %d numbers could not be read", unreadable, len(args))
			}
			return nil
		},
	}
	flags.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per number")
	return cmd
}

// lookupResult is the --json line; tools rely on number and lists.
type lookupResult struct {
	Number   string            `json:"number"`
	Lists    []string          `json:"lists"`
	Versions map[string]uint64 `json:"versions"`
	Live     []registry.Change `json:"live"`
	History  []registry.Change `json:"history"`
	// The data sets beside the lists (kinds.go).
	LineType    registry.LineType          `json:"line_type"`
	Consents    []registry.ConsentRecord   `json:"consents"`
	Revocations []registry.ConsentChange   `json:"revocations"`
	RND         []registry.RNDRecord       `json:"rnd"`
	Exemptions  []registry.ExemptionRecord `json:"exemptions"`
}

func printLookupJSON(w io.Writer, r registry.Report, d registry.NumberData) error {
	out := lookupResult{Number: r.Number, Lists: []string{}, Versions: map[string]uint64{}, Live: r.Live, History: r.History,
		LineType: d.LineType, Consents: d.Consents, Revocations: d.Revocations, RND: d.RND, Exemptions: d.Exemptions}
	for _, l := range r.Listings {
		out.Lists = append(out.Lists, l.List)
		out.Versions[l.List] = l.Version
	}
	return json.NewEncoder(w).Encode(out)
}

func printLookup(w io.Writer, r registry.Report) {
	names := make([]string, len(r.Listings))
	for i, l := range r.Listings {
		names[i] = fmt.Sprintf("%s (version %d)", l.List, l.Version)
	}
	if len(names) == 0 {
		names = []string{"on no list"}
	}
	fmt.Fprintf(w, "%s  %s\n", r.Number, strings.Join(names, ", "))
	for _, c := range r.Live {
		fmt.Fprintf(w, "  in force: %s\n", describeChange(c))
	}
	for _, c := range r.History {
		fmt.Fprintf(w, "  history:  %s\n", describeChange(c))
	}
}

// describeChange is one line of a live change: what, on which list, when, who, how, why.
func describeChange(c registry.Change) string {
	s := fmt.Sprintf("%s %s on %s at %s by %s via %s", c.Action, c.Outcome, c.List, c.At.Format(time.RFC3339), c.By, c.Via)
	if c.Reason != "" {
		s += fmt.Sprintf(": %q", c.Reason)
	}
	return s
}
