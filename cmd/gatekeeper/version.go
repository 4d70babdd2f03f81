package main

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

// buildVersion names the build for `gatekeeper version`, the log and every
// audit record: the release version and the VCS revision and commit time Go
// embeds when it builds in a git checkout (go build; not go run or go test):
// "v1.2.3 3008f5a1b2c3 2026-11-29T11:55:00Z", "-dirty" marking uncommitted changes.
func buildVersion() string {
	info, _ := debug.ReadBuildInfo()
	return describeBuild(version, info)
}

// unknownBuild names a build without a version or VCS information (go run,
// go test, -buildvcs=false, a git worktree).
const unknownBuild = "unknown"

func describeBuild(release string, info *debug.BuildInfo) string {
	var rev, at string
	dirty := false
	if info != nil {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if rev == "" {
		if release != "" {
			return release
		}
		return unknownBuild
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return strings.TrimSpace(strings.Join([]string{release, rev, at}, " "))
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the build version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			v := buildVersion()
			if v == unknownBuild {
				v += " (no version or VCS information: build with go build in a git checkout, or -ldflags \"-X main.version=V\")"
			}
			fmt.Fprintln(cmd.OutOrStdout(), "gatekeeper", v)
		},
	}
}

// exitError carries a process exit status (check: 1 means "reject"). With a
// nil err it is a status only: the command has already said what it had to.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// reportable tells whether main prints err: not a status-only exitError.
func reportable(err error) bool {
	var ee *exitError
	return !errors.As(err, &ee) || ee.err != nil
}

// exitCode maps an error to the process exit status: 2 unless it says otherwise.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 2
}
