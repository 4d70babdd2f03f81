package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/internal/number"
)

// checkAuditDir names the absolute folder when it does not exist.
func checkAuditDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no decision log in %s: the folder does not exist (audit.dir of the config, taken from its folder, or from the working directory without --config)", abs)
	}
	return nil
}

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read, check and prove the decision log"}
	var dir, keyPath string
	// verifierOf loads the checkpoints' public key named by --key, else by
	// the config; nil when the config's is not there yet (no checkpoint was
	// ever signed).
	verifierOf := func(cmd *cobra.Command) (note.Verifier, error) {
		given := keyPath != ""
		if !given {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return nil, err
			}
			keyPath = cfg.Path(cfg.Audit.Key) + ".pub"
		}
		v, err := audit.LoadVerifier(keyPath)
		if errors.Is(err, os.ErrNotExist) && !given {
			return nil, nil
		}
		return v, err
	}
	// where resolves the audit folder from --dir, else from the config, and
	// the checkpoints' public key.
	where := func(cmd *cobra.Command) (string, note.Verifier, error) {
		if dir == "" {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return "", nil, err
			}
			dir = cfg.Path(cfg.Audit.Dir)
		}
		if err := checkAuditDir(dir); err != nil {
			return "", nil, err
		}
		v, err := verifierOf(cmd)
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
			if r.Unfinished != "" {
				fmt.Fprintf(out, "the log ends with a line that is not a record, which no record proves (a write under way, or cut short by a crash and sealed at the next start):\n%s\n", r.Unfinished)
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

	var q audit.EvidenceQuery
	var to, at, outPath string
	evidence := &cobra.Command{
		Use:   "evidence (--call-id ID | --to NUMBER --at TIME) [-o FILE]",
		Short: "Write one call's evidence: its records, one proof of them in a signed checkpoint's tree, the policy text",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (q.CallID == "") == (to == "") || (to != "") != (at != "") {
				return errors.New("name the call by --call-id, or by --to and --at")
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			dir, verifier, err := where(cmd)
			if err != nil {
				return err
			}
			if to != "" {
				if q.Called, err = number.Normalize(to, cfg.DefaultRegion); err != nil {
					return fmt.Errorf("--to %q: %w", to, err)
				}
				if q.At, err = time.Parse(time.RFC3339, at); err != nil {
					return fmt.Errorf("--at %q: want RFC 3339, e.g. 2026-03-04T20:30:00-05:00", at)
				}
			}
			b, err := audit.Evidence(dir, q, verifier)
			if errors.Is(err, audit.ErrNoSuchCall) {
				what := fmt.Sprintf("call %q", q.CallID)
				if q.CallID == "" {
					what = fmt.Sprintf("call to %s within a day of %s", q.Called, q.At.Format(time.RFC3339))
				}
				return fmt.Errorf("%s: %w (searched %s)", what, err, dir)
			}
			if err != nil {
				return err
			}
			data, err := b.Encode()
			if err != nil {
				return err
			}
			path := outPath
			if path == "" {
				path = b.FileName()
			}
			if err := os.WriteFile(path, data, 0o640); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d records of call %s and their proof, %d bytes\n", path, len(b.Records), b.CallID, len(data))
			return nil
		},
	}
	evidence.Flags().StringVar(&q.CallID, "call-id", "", "the call's SIP Call-ID")
	evidence.Flags().StringVar(&to, "to", "", "the called number, in any form")
	evidence.Flags().StringVar(&at, "at", "", "about when the call was made (RFC 3339); the closest decision within a day")
	evidence.Flags().StringVarP(&outPath, "output", "o", "", "the bundle's file (default evidence-<Call-ID>.json here)")

	verifyEvidence := &cobra.Command{
		Use:   "verify-evidence FILE",
		Short: "Check an evidence bundle offline with the log's public key alone",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			verifier, err := verifierOf(cmd) // the bundle and the key alone: no audit folder
			if err != nil {
				return err
			}
			if verifier == nil {
				return fmt.Errorf("no public key at %s: give --key", keyPath)
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			s, err := audit.VerifyEvidence(data, verifier)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("%s (key %s): %w", args[0], keyPath, err)}
			}
			counts := fmt.Sprintf("%s %d, %s %d, %s %d", audit.KindDecision, s.Records[audit.KindDecision],
				audit.KindOutcome, s.Records[audit.KindOutcome], audit.KindDataChange, s.Records[audit.KindDataChange])
			if n := s.Records[audit.KindPolicyLoaded]; n > 0 { // bundles of format 2 held it
				counts += fmt.Sprintf(", %s %d", audit.KindPolicyLoaded, n)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: call %s proven: its records are in the log as signed by %s at %s (size %d): %s (%d of them proven by their hash in another proven record)\n",
				args[0], s.CallID, s.Checkpoint.Origin, s.Checkpoint.Time.Format(time.RFC3339), s.Checkpoint.Size, counts, s.Named)
			return nil
		},
	}

	var seq uint64
	var why string
	redact := &cobra.Command{
		Use:   "redact --seq N --reason TEXT",
		Short: "Remove one record (a court order, a privacy request), keeping every other record's proof",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if seq == 0 || why == "" {
				return errors.New("give --seq and --reason")
			}
			dir, _, err := where(cmd)
			if err != nil {
				return err
			}
			if err := audit.Redact(dir, seq, why); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "record %d of %s redacted: only its seq, hash and the reason remain\n", seq, dir)
			return nil
		},
	}
	redact.Flags().Uint64Var(&seq, "seq", 0, "the record's seq")
	redact.Flags().StringVar(&why, "reason", "", "why it is removed; kept in its place")

	cmd.PersistentFlags().StringVar(&dir, "dir", "", "the audit folder (instead of the config's)")
	cmd.PersistentFlags().StringVar(&keyPath, "key", "", "the checkpoints' public key (default: the config's audit.key + .pub)")
	cmd.AddCommand(verify, checkpoint, evidence, verifyEvidence, redact, newAuditQueryCmd(&dir), newAuditStatsCmd(&dir))
	return cmd
}
