package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/gatekeeper-sip/gatekeeper/audit"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read, check and prove the decision log"}
	var dir, keyPath string
	// where resolves the audit folder and the checkpoints' public key from
	// the flags, else from the config.
	where := func(cmd *cobra.Command) (string, note.Verifier, error) {
		if dir == "" || keyPath == "" {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return "", nil, err
			}
			if dir == "" {
				dir = cfg.Path(cfg.Audit.Dir)
			}
			if keyPath == "" {
				keyPath = cfg.Path(cfg.Audit.Key) + ".pub"
			}
		}
		v, err := audit.LoadVerifier(keyPath)
		if errors.Is(err, os.ErrNotExist) {
			return dir, nil, nil // no key yet: no checkpoint was ever signed
		}
		return dir, v, err
	}

	var sincePath string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check every record against the Merkle tree and the signed checkpoints; name the first bad record",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, verifier, err := where(cmd)
			if err != nil {
				return err
			}
			opts := audit.VerifyOptions{Verifier: verifier}
			if sincePath != "" {
				if opts.Since, err = os.ReadFile(sincePath); err != nil {
					return err
				}
			}
			r, err := audit.Verify(dir, opts)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("%d records verified, then: %w", r.Records, err)}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: %d records intact (%d redacted); tree size %d, root %s\n", dir, r.Records, r.Redacted, r.Size, r.Root)
			switch {
			case r.Signed:
				fmt.Fprintf(out, "%d signed checkpoints match the records (key %s)\n", r.Checkpoints, keyPath)
			case verifier == nil:
				fmt.Fprintf(out, "%d checkpoints match the records; their signatures were not checked: no public key at %s\n", r.Checkpoints, keyPath)
			default:
				fmt.Fprintf(out, "%d checkpoints match the records\n", r.Checkpoints)
			}
			if r.Since != nil {
				fmt.Fprintf(out, "the log only grew since the checkpoint of %s (size %d): consistency proven\n",
					r.Since.Time.Format("2006-01-02 15:04:05Z"), r.Since.Size)
			}
			if r.Untreed > 0 {
				fmt.Fprintf(out, "the last %d records are not in the tree file yet (the server writes it after the records)\n", r.Untreed)
			}
			return nil
		},
	}
	verify.Flags().StringVar(&sincePath, "since", "", "a checkpoint exported earlier: prove the log only grew since")

	checkpoint := &cobra.Command{
		Use:   "checkpoint",
		Short: "Print the latest signed checkpoint, to keep where the operator cannot rewrite it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, verifier, err := where(cmd)
			if err != nil {
				return err
			}
			cs, err := audit.Checkpoints(dir, verifier)
			if err != nil {
				return err
			}
			if len(cs) == 0 {
				return fmt.Errorf("no checkpoint in %s yet: the server signs one every 10 s while calls come in, and at shutdown", dir)
			}
			_, err = cmd.OutOrStdout().Write(cs[len(cs)-1].Note)
			return err
		},
	}

	cmd.PersistentFlags().StringVar(&dir, "dir", "", "the audit folder (instead of the config's)")
	cmd.PersistentFlags().StringVar(&keyPath, "key", "", "the checkpoints' public key (default: the config's audit.key + .pub)")
	cmd.AddCommand(verify, checkpoint)
	return cmd
}
