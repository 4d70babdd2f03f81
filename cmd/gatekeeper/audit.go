package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/audit"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read and check the decision log"}
	var dir string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the decision log's sequence and hash chain; name the first break",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				cfg, err := loadConfig(cmd)
				if err != nil {
					return err
				}
				dir = cfg.Path(cfg.Audit.Dir)
			}
			n, err := audit.Verify(dir)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("%d records verified, then: %w", n, err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d records, chain intact\n", dir, n)
			return nil
		},
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", "", "the audit folder (default: audit.dir of --config)")
	cmd.AddCommand(verify)
	return cmd
}
