// Command gatekeeper is a SIP proxy that lets an outbound call through to the
// carrier only when the compliance policy allows it.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "gatekeeper",
		Short:         "A compliance gate between a call center's dialers and its SIP carrier",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newImportCmd(), newLookupCmd(), newListsCmd(), newDncCmd(), newCheckCmd(), newPolicyCmd(), newAuditCmd(), newVersionCmd(), newConsentCmd())
	if err := root.Execute(); err != nil {
		if reportable(err) {
			fmt.Fprintln(os.Stderr, "gatekeeper:", err)
		}
		os.Exit(exitCode(err))
	}
}
