package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

func newListsCmd() *cobra.Command {
	var flags registryFlags
	cmd := &cobra.Command{
		Use:   "lists",
		Short: "Show every list with its version, count, import time and age",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, _, err := flags.open()
			if err != nil {
				return err
			}
			defer reg.Close()
			lists, err := reg.Lists()
			if err != nil {
				return err
			}
			return printLists(cmd.OutOrStdout(), lists, time.Now())
		},
	}
	flags.add(cmd)
	return cmd
}

func printLists(w io.Writer, lists []registry.ListInfo, now time.Time) error {
	if len(lists) == 0 {
		_, err := fmt.Fprintln(w, "no lists imported yet (gatekeeper import --list NAME FILE...)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LIST\tVERSION\tNUMBERS\tIMPORTED\tAGE")
	for _, l := range lists {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", l.Name, l.Version, l.Count, l.ImportedAt.Format(time.RFC3339), age(now.Sub(l.ImportedAt)))
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
