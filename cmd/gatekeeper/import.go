package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gatekeeper-sip/gatekeeper/internal/admin"
	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/registry"
	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

func newImportCmd() *cobra.Command {
	var flags registryFlags
	var req registry.ImportRequest
	var format string
	cmd := &cobra.Command{
		Use:   "import --list NAME [--delta|--replace] [--format F] [--source-date YYYY-MM-DD] FILE...",
		Short: "Load a DNC list from files: a new version of the list, or (--delta) changes to it",
		Long: `import reads the files into a new version of the list and switches to it at once;
with --delta it applies them as changes instead. Files may be zipped.

Formats (--format; without it each file's format is recognized and reported):
  ftc          the FTC's full list: NPANXXXXXX or NPA,NXXXXXX per line
  ftc-changes  the FTC's change list: number, date and A (add) or D (delete) per
               line, e.g. 2025550143,2026-11-20,A; columns in any order, named
               by a header line or told apart by their values
  plain        one number per line: NPANXXXXXX, NPA,NXXXXXX, 1NPANXXXXXX or E.164
  csv          a CSV file with a header; the numbers are in --column
Blank lines and lines starting with # are skipped.

The list must be one the policy declares under lists: (--undeclared takes any
name), so that a misspelled name does not make a list no rule reads. Files that
hold no number are refused (an empty or cut-short download); --replace takes
them, and empties the list.
A full import that would remove more of the list's numbers than import.max_removal
of the config (default 10%) is refused before anything changes, saying how many
would go: import changes with --delta, or add --replace when the files are the
whole list. A malformed line fails the import with FILE:LINE and the list keeps
its previous version; --skip-invalid counts such lines and lists them in a report instead.
The source date (what the data is as of) is --source-date, else the latest date
of a change list, else a date in the file name, the zip entry time or the file's
modification time. Live changes (gatekeeper dnc) stay in force over imports.
While ` + "`gatekeeper serve`" + ` runs, the import goes through the server, which reads the
files itself and answers with the new version from the next call on. Should the server
stop before it answers, import reads the registry to say whether the new version is in
force or the list keeps its previous one.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := formats.ParseFormat(format)
			if err != nil {
				return err
			}
			req.Format = f
			// A server reads the files from its own working directory: give it absolute paths.
			for _, a := range args {
				abs, err := filepath.Abs(a)
				if err != nil {
					return err
				}
				req.Files = append(req.Files, abs)
			}
			if req.InvalidReport != "" {
				if req.InvalidReport, err = filepath.Abs(req.InvalidReport); err != nil {
					return err
				}
			}
			reg, cfg, err := flags.open(cmd)
			if err != nil {
				return err
			}
			defer func() { reg.Close() }()
			if err := checkListDeclared(reg, cfg, req.List, req.Undeclared); err != nil {
				return err
			}
			// Interrupting abandons the import; nothing of it is applied.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			progress := newProgressView(cmd.ErrOrStderr())
			req.Progress = progress.show
			req.ID = rand.Text()
			start := time.Now()
			info, err := reg.Import(ctx, req)
			progress.end()
			if lost := err; errors.Is(lost, admin.ErrNoAnswer) && ctx.Err() == nil {
				reg.Close()
				if reg, err = openRegistryAgain(cfg, flags.dataDir); err != nil {
					return err
				}
				if info, err = importOutcome(reg, req, lost); err == nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "the server stopped after switching the list to the import; the import is in force:")
				}
			}
			if err != nil {
				return err
			}
			printImport(cmd.OutOrStdout(), info, time.Since(start))
			return nil
		},
	}
	flags.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&req.List, "list", "", "the list, e.g. ftc or internal: one the policy declares under lists:")
	fl.BoolVar(&req.Undeclared, "undeclared", false, "take a list the policy does not declare (a new one to declare later)")
	fl.BoolVar(&req.Delta, "delta", false, "apply the files as changes (additions and deletions) to the current version")
	fl.BoolVar(&req.Replace, "replace", false, "let a full import remove more of the list than import.max_removal (default 10%): the files are the whole list")
	fl.StringVar(&format, "format", "", "ftc, ftc-changes, plain or csv (default: recognized per file)")
	fl.StringVar(&req.Column, "column", "", "the CSV column holding the numbers, e.g. phone")
	fl.StringVar(&req.SourceDate, "source-date", "", "the date the data is as of, YYYY-MM-DD")
	fl.BoolVar(&req.SkipInvalid, "skip-invalid", false, "count malformed lines and list them in a report instead of failing")
	fl.StringVar(&req.InvalidReport, "invalid-report", "", "where --skip-invalid lists the lines (default: DATA_DIR/reports/LIST-TIME-invalid.txt)")
	addKinds(cmd, &flags) // --kind, --map: kinds.go
	return cmd
}

// serverRestartWait is how long the CLI waits for a server to answer again
// after an import lost its connection (a supervised server restarts in
// well under a second) before it opens the registry itself.
const serverRestartWait = 5 * time.Second

// openRegistryAgain reaches the registry after the server holding it went
// away: a server that answers again within serverRestartWait, else the
// store itself.
func openRegistryAgain(cfg *config.Config, dataDir string) (registryAccess, error) {
	_, socket, err := registryPaths(cfg, dataDir)
	if err != nil {
		return nil, err
	}
	client := admin.NewClient(socket)
	for deadline := time.Now().Add(serverRestartWait); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
		err := client.Ping(ctx)
		cancel()
		if err == nil {
			return client, nil
		}
	}
	client.Close()
	reg, err := openRegistry(cfg, dataDir, true)
	if err != nil {
		return nil, fmt.Errorf("the server stopped during the import, and the registry cannot be read to tell whether it was applied: %w", err)
	}
	return reg, nil
}

// importOutcome tells from the registry whether the import req, whose
// answer was lost (lost), is in force: the list's version carries req.ID
// exactly when the switch to it was committed.
func importOutcome(reg registryAccess, req registry.ImportRequest, lost error) (registry.ListInfo, error) {
	lists, err := reg.Lists()
	if err != nil {
		return registry.ListInfo{}, fmt.Errorf("the server stopped during the import (%v), and the lists cannot be read to tell whether it was applied: %w", lost, err)
	}
	for _, l := range lists {
		if l.Name != req.List {
			continue
		}
		if l.ImportID == req.ID {
			return l, nil
		}
		return registry.ListInfo{}, fmt.Errorf("the server stopped before the import was applied: list %s keeps version %d, nothing of the import is in force (%v)", req.List, l.Version, lost)
	}
	return registry.ListInfo{}, fmt.Errorf("the server stopped before the import was applied: there is no list %s, nothing of the import is in force (%v)", req.List, lost)
}

func printImport(w io.Writer, info registry.ListInfo, took time.Duration) {
	what := "imported"
	if info.Delta {
		what = fmt.Sprintf("applied changes to")
	}
	fmt.Fprintf(w, "%s list %s: version %d, %d numbers", what, info.Name, info.Version, info.Count)
	if info.Delta {
		fmt.Fprintf(w, " (%+d added, -%d removed)", info.Added, info.Removed)
	}
	fmt.Fprintf(w, ", data as of %s (%s), took %s\n", info.SourceDate, info.SourceDateFrom, took.Round(time.Millisecond))
	for _, src := range info.Sources {
		fmt.Fprintf(w, "  %s  %d bytes  sha256 %s\n", src.Name, src.Size, src.SHA256)
		for _, e := range src.Entries {
			fmt.Fprintf(w, "    %s: %s\n", strings.TrimPrefix(e.Name, src.Name+":"), e.Layout)
		}
	}
	if info.Invalid > 0 {
		fmt.Fprintf(w, "  %d malformed lines skipped, listed in %s\n", info.Invalid, info.InvalidReport)
	}
	if info.Live.Added+info.Live.Removed > 0 {
		fmt.Fprintf(w, "  live changes in force on top: %d added, %d removed (gatekeeper lookup shows them)\n", info.Live.Added, info.Live.Removed)
	}
}

// progressView shows an import's progress: a bar on a terminal, a plain line
// every few seconds otherwise (logs, CI).
type progressView struct {
	w        io.Writer
	terminal bool
	bar      *progressbar.ProgressBar
	phase    string
	// completed: the phase's 100 % line was written (not on a terminal).
	completed bool
	lastLine  time.Time
}

// plainEvery is how often a non-terminal gets a progress line.
const plainEvery = 5 * time.Second

func newProgressView(w io.Writer) *progressView {
	f, ok := w.(*os.File)
	return &progressView{w: w, terminal: ok && term.IsTerminal(int(f.Fd()))}
}

func (v *progressView) show(p registry.Progress) {
	rate := float64(p.Numbers) / max(p.Elapsed.Seconds(), 1e-3)
	if !v.terminal {
		// A line every plainEvery, and one as a phase completes: only its
		// first report at 100 %, though more follow while the numbers drain.
		if p.Phase != v.phase {
			v.phase, v.completed = p.Phase, false
		}
		done := p.Done >= p.Total
		if v.completed || !done && time.Since(v.lastLine) < plainEvery {
			return
		}
		v.completed = done
		v.lastLine = time.Now()
		fmt.Fprintf(v.w, "import: %s %s, %d numbers (%.2f M/s)%s\n", p.Phase, fraction(p), p.Numbers, rate/1e6, eta(p))
		return
	}
	if v.bar == nil || v.phase != p.Phase {
		v.end()
		v.phase = p.Phase
		opts := []progressbar.Option{progressbar.OptionSetWriter(v.w), progressbar.OptionSetDescription(p.Phase),
			progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100 * time.Millisecond)}
		if p.Phase == "read" {
			opts = append(opts, progressbar.OptionShowBytes(true))
		}
		v.bar = progressbar.NewOptions64(p.Total, opts...)
	}
	v.bar.Describe(fmt.Sprintf("%-5s %d numbers, %.2f M/s", p.Phase, p.Numbers, rate/1e6))
	v.bar.Set64(p.Done)
}

func (v *progressView) end() {
	if v.bar != nil {
		v.bar.Finish()
		fmt.Fprintln(v.w)
		v.bar = nil
	}
}

func fraction(p registry.Progress) string {
	if p.Total == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(p.Done)/float64(p.Total))
}

func eta(p registry.Progress) string {
	if p.Done == 0 || p.Done >= p.Total {
		return ""
	}
	left := time.Duration(float64(p.Elapsed) * float64(p.Total-p.Done) / float64(p.Done))
	return ", ETA " + left.Round(time.Second).String()
}
