// Command gatekeeper is a SIP proxy that lets an outbound call through to the
// carrier only when the compliance policy allows it.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := newRootCmd(newServeCmd(), newImportCmd(), newLookupCmd(), newListsCmd(), newDncCmd(), newCheckCmd(), newPolicyCmd(), newAuditCmd(), newVersionCmd(), newConsentCmd(), newClusterCmd(), newAbandonmentCmd())
	if err := root.Execute(); err != nil {
		if reportable(err) {
			fmt.Fprintln(os.Stderr, "gatekeeper:", err)
		}
		os.Exit(exitCode(err))
	}
}

// newRootCmd is the gatekeeper command over subs. Its one persistent flag,
// --config, names the gatekeeper.yaml every subcommand reads (loadConfig).
func newRootCmd(subs ...*cobra.Command) *cobra.Command {
	root := &cobra.Command{
		Use:           "gatekeeper",
		Short:         "A compliance gate between a call center's dialers and its SIP carrier",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("config", "", "gatekeeper.yaml (default: the embedded configs/gatekeeper.yaml)")
	root.AddCommand(subs...)
	return root
}
