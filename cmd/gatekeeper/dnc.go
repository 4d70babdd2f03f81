package main

import (
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

func newDncCmd() *cobra.Command {
	var flags registryFlags
	var list, reason string
	var undeclared bool
	cmd := &cobra.Command{
		Use:   "dnc",
		Short: "Add numbers to a list or remove them, at once (live opt-outs)",
		Long: `dnc adds numbers to a list (typically internal, the company's own Do-Not-Call
list) or removes them, with effect from the next call. Each change is recorded
with who made it (the user this command runs as), when, how and --reason, and
kept: lookup shows them. While ` + "`gatekeeper serve`" + ` runs, the change goes through it.

Live changes stay in force over later imports of the list: an addition until a
live removal; a removal until a live addition, or until an import whose data is
as of a later day lists the number again.`,
	}
	fs := cmd.PersistentFlags()
	flags.register(fs)
	fs.StringVar(&list, "list", "", "the list, e.g. internal: one the policy declares under lists:")
	fs.BoolVar(&undeclared, "undeclared", false, "take a list the policy does not declare (a new one to declare later)")
	fs.StringVar(&reason, "reason", "", `why, e.g. "asked on the call of 2026-11-20"`)
	for _, remove := range []bool{false, true} {
		verb, short := "add", "Add numbers to a list"
		if remove {
			verb, short = "remove", "Remove numbers from a list"
		}
		cmd.AddCommand(&cobra.Command{
			Use:   verb + " --list NAME [--reason R] NUMBER...",
			Short: short,
			Args:  cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if list == "" {
					return fmt.Errorf("--list is required")
				}
				reg, cfg, err := flags.openShared(cmd)
				if err != nil {
					return err
				}
				defer reg.Close()
				if err := checkListDeclared(reg, cfg, list, undeclared); err != nil {
					return err
				}
				req := registry.LiveRequest{List: list, Remove: remove, Reason: reason, By: operator(), Via: "cli", Undeclared: undeclared}
				// Every number is read before anything changes.
				for _, raw := range args {
					e164, err := number.Normalize(raw, cfg.DefaultRegion)
					if err != nil {
						return err
					}
					req.Numbers = append(req.Numbers, e164)
				}
				changes, err := reg.ChangeLive(req)
				if err != nil {
					return err
				}
				printChanges(cmd.OutOrStdout(), changes)
				return nil
			},
		})
	}
	return cmd
}

func printChanges(w io.Writer, changes []registry.Change) {
	for _, c := range changes {
		fmt.Fprintf(w, "%s  %s: %s (%s by %s)\n", c.Number, c.List, c.Outcome, c.Action, c.By)
	}
}

// operator names who runs this command, for the record: the login behind sudo when there is one.
func operator() string {
	name := strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if su := os.Getenv("SUDO_USER"); su != "" && su != name {
		return su + " (sudo as " + name + ")"
	}
	return name
}
