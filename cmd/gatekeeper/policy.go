package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check a policy file, run its test cases offline, replay logged calls under it",
	}
	cmd.AddCommand(newPolicyValidateCmd(), newPolicyTestCmd(), newPolicyReplayCmd())
	return cmd
}

func newPolicyValidateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a policy file: errors with line and column, warnings for rules that never decide",
		Long: `validate reads a policy file as the gatekeeper would load it. A mistake is
reported as FILE:LINE:COLUMN and exits 1. Doubts that do not stop the file from
loading are warnings: a rule that can never decide (an earlier rule takes every
call it would) and, with --config, a declared list the registry does not hold yet.

Exit status: 0 valid (warnings included), 1 invalid, 2 error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			engine, err := policy.Parse(args[0], text, nil)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			out := cmd.OutOrStdout()
			warnings := engine.Warnings()
			if configPath(cmd) != "" {
				missing, err := listsNotImported(cmd, engine.Lists())
				if err != nil {
					return err
				}
				for _, name := range missing {
					warnings = append(warnings, fmt.Sprintf("%s: warning: list %q is declared but not imported in the registry", args[0], name))
				}
			}
			for _, w := range warnings {
				fmt.Fprintln(out, w)
			}
			fmt.Fprintf(out, "%s: valid, %d warnings\n", args[0], len(warnings))
			return nil
		},
	}
	return cmd
}

// listsNotImported returns the declared lists the registry of cmd's --config does not hold.
func listsNotImported(cmd *cobra.Command, declared []string) ([]string, error) {
	var flags registryFlags
	reg, _, _, err := flags.read(cmd)
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	lists, err := reg.Lists()
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, name := range declared {
		if !slices.ContainsFunc(lists, func(l registry.ListInfo) bool { return l.Name == name }) {
			missing = append(missing, name)
		}
	}
	return missing, nil
}

func newPolicyTestCmd() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test FILE",
		Short: "Run a policy test file's cases against the policy it names, offline",
		Long: `test runs each case of a policy test file (see docs/policy.md): a call at a
fixed time, the registry as the case sets it up, and the decision expected. It
needs no server and no registry. Failing cases are printed with their line.

Exit status: 0 all cases pass, 1 a case failed, 2 error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			policyPath, results, err := policy.RunTestFile(args[0])
			if err != nil {
				return err
			}
			out, failed := cmd.OutOrStdout(), 0
			for _, r := range results {
				switch {
				case r.Failure != "":
					failed++
					fmt.Fprintf(out, "FAIL %s %s: %s\n", r.Place, r.Name, r.Failure)
				case verbose:
					fmt.Fprintf(out, "ok   %s\n", r.Name)
				}
			}
			fmt.Fprintf(out, "%s: %d cases, %d failed\n", policyPath, len(results), failed)
			if failed > 0 {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every case, not only failures")
	return cmd
}
