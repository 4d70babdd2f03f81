package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

func newImportCmd() *cobra.Command {
	var flags registryFlags
	var list string
	cmd := &cobra.Command{
		Use:   "import --list NAME FILE...",
		Short: "Load a DNC list from files, replacing the list's current version",
		Long: `import reads numbers, one per line, as NPANXXXXXX, NPA,NXXXXXX, 1NPANXXXXXX or
E.164 (+1..., or another country's +CC...); blank lines and lines starting with
# are skipped. The files together become the list's new version, all at once: a
malformed line fails the import with FILE:LINE and the list keeps its previous
version. While ` + "`gatekeeper serve`" + ` runs, the import goes through the server, which
reads the files itself and answers with the new version from the next call on.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files := make([]string, len(args))
			for i, a := range args {
				abs, err := filepath.Abs(a) // a server reads them from its own working directory
				if err != nil {
					return err
				}
				files[i] = abs
			}
			reg, _, err := flags.open()
			if err != nil {
				return err
			}
			defer reg.Close()
			// Interrupting abandons the import; nothing of it is applied.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			start := time.Now()
			info, err := reg.Import(ctx, registry.ImportRequest{List: list, Files: files})
			if err != nil {
				return err
			}
			printImport(cmd.OutOrStdout(), info, time.Since(start))
			return nil
		},
	}
	flags.add(cmd)
	cmd.Flags().StringVar(&list, "list", "", "the list to replace, e.g. internal")
	_ = cmd.MarkFlagRequired("list")
	return cmd
}

func printImport(w io.Writer, info registry.ListInfo, took time.Duration) {
	fmt.Fprintf(w, "imported list %s: version %d, %d numbers, at %s (took %s)\n",
		info.Name, info.Version, info.Count, info.ImportedAt.Format(time.RFC3339), took.Round(time.Millisecond))
	for _, src := range info.Sources {
		fmt.Fprintf(w, "  %s  %d bytes  sha256 %s\n", src.Name, src.Size, src.SHA256)
	}
}
