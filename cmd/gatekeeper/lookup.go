package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/number"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

func newLookupCmd() *cobra.Command {
	var flags registryFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "lookup [--json] NUMBER...",
		Short: "Show which lists hold each number, and in which version",
		Long: `lookup shows, for each NUMBER, the lists that hold it. With --json it prints one
object per number and line: {"number": E.164, "lists": [names], "versions": {name: version}}.
A number that cannot be read is reported on stderr and the exit status is 2.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, cfg, err := flags.open()
			if err != nil {
				return err
			}
			defer reg.Close()
			unreadable := 0
			for _, raw := range args {
				e164, err := number.Normalize(raw, cfg.DefaultRegion)
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "gatekeeper: lookup:", err)
					unreadable++
					continue
				}
				listings, err := reg.Lookup(e164)
				if err != nil {
					return err
				}
				if asJSON {
					err = printLookupJSON(cmd.OutOrStdout(), e164, listings)
				} else {
					printLookup(cmd.OutOrStdout(), e164, listings)
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
}

func printLookupJSON(w io.Writer, e164 string, listings []registry.Listing) error {
	r := lookupResult{Number: e164, Lists: []string{}, Versions: map[string]uint64{}}
	for _, l := range listings {
		r.Lists = append(r.Lists, l.List)
		r.Versions[l.List] = l.Version
	}
	return json.NewEncoder(w).Encode(r)
}

func printLookup(w io.Writer, e164 string, listings []registry.Listing) {
	if len(listings) == 0 {
		fmt.Fprintf(w, "%s  on no list\n", e164)
		return
	}
	names := make([]string, len(listings))
	for i, l := range listings {
		names[i] = fmt.Sprintf("%s (version %d)", l.List, l.Version)
	}
	fmt.Fprintf(w, "%s  %s\n", e164, strings.Join(names, ", "))
}
