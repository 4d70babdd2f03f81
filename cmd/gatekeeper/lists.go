package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

func newListsCmd() *cobra.Command {
	var flags registryFlags
	var version uint64
	cmd := &cobra.Command{
		Use:   "lists [--version ID]",
		Short: "Show every list with its version, source date, age, count, live changes and size",
		Long: `lists shows every list: its version (the id decisions cite), the date its data
is as of and how old that is (the FTC's safe harbor wants the national list
downloaded within the last 31 days), the numbers its imported data lists, the
live changes in force on top (+added -removed), its size on disk, and when and
how it was last imported (full, or a change list on top of a full import).

With --version ID it prints, as JSON, what the import with that id was when it
was made (the id a decision cites): its list, files, their sizes and SHA-256,
the date its data is as of, when it ran and the count it left.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, _, dir, err := flags.read(cmd)
			if err != nil {
				return err
			}
			defer reg.Close()
			if version != 0 {
				info, err := reg.Version(version)
				if err != nil {
					return fmt.Errorf("%w in the registry in %s", err, dir)
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			lists, err := reg.Lists()
			if err != nil {
				return err
			}
			if err := printLists(cmd.OutOrStdout(), lists, dir, time.Now()); err != nil {
				return err
			}
			sets, err := reg.DataSets()
			if err != nil {
				return err
			}
			return printDataSets(cmd.OutOrStdout(), sets, time.Now()) // kinds.go
		},
	}
	flags.add(cmd)
	cmd.Flags().Uint64Var(&version, "version", 0, "print the record of the import with this id")
	return cmd
}

func printLists(w io.Writer, lists []registry.ListInfo, dir string, now time.Time) error {
	if len(lists) == 0 {
		_, err := fmt.Fprintln(w, noListsIn(dir))
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LIST\tVERSION\tSOURCE DATE\tAGE\tNUMBERS\tLIVE\tSIZE\tIMPORTED\tLAST IMPORT")
	for _, l := range lists {
		source, dataAge, imported, last := "-", "-", "-", "live changes only"
		if l.Version != 0 {
			source, dataAge, imported = l.SourceDate, age(now.Sub(l.AsOf())), l.ImportedAt.Format(time.RFC3339)
			last = "full"
			if l.Delta {
				last = fmt.Sprintf("change list (+%d -%d), %d since the full import %d", l.Added, l.Removed, len(l.Deltas), l.Base)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t+%d -%d\t%s\t%s\t%s\n", l.Name, l.Version, source, dataAge, l.Count,
			l.Live.Added, l.Live.Removed, size(l.Bytes), imported, last)
	}
	return tw.Flush()
}

// age shows a duration the way people say it: 3d4h, 2h5m, 40s.
func age(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%ds", d/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%ds", max(d, 0)/time.Second)
}

// size shows bytes in binary units: 281.4 MiB.
func size(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := int64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}
