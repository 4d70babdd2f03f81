package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/internal/number"
	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// queryFlags are the filters audit query and audit stats share.
type queryFlags struct {
	since, until, called, caller string
	q                            audit.Query
	utc                          bool
	json, csv, table             bool
}

func (f *queryFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.since, "since", "", "calls decided at or after: 2031-05-01, '2031-05-01 14:00' (local time), RFC 3339 (2031-05-01T18:00:00Z), today, yesterday, or a time ago (90m, 36h, 7d)")
	fs.StringVar(&f.until, "until", "", "calls decided before, in the forms of --since; a date alone includes that whole day")
	fs.StringVar(&f.called, "called", "", "the called number, in any form (202-555-0199, (202) 555-0199, +12025550199)")
	fs.StringVar(&f.caller, "caller", "", "the caller ID sent, in any form")
	fs.StringVar(&f.q.CallID, "call-id", "", "the SIP Call-ID")
	fs.StringVar(&f.q.Decision, "decision", "", "allow or reject")
	fs.StringVar(&f.q.Rule, "rule", "", "the rule that decided (the name default for the calls no rule matched)")
	fs.IntVar(&f.q.Status, "status", 0, "the final SIP status the dialer got (603, 200...)")
	fs.StringVar(&f.q.Campaign, "campaign", "", "the campaign")
	fs.StringVar(&f.q.Dialer, "dialer", "", "the configured dialer")
	fs.StringVar(&f.q.Seller, "seller", "", "the seller (from the call's outcome: forwarded calls only)")
	fs.BoolVar(&f.utc, "utc", false, "read and show times in UTC instead of local time")
	fs.BoolVar(&f.json, "json", false, "JSON Lines (the default when the output is not a terminal)")
	fs.BoolVar(&f.csv, "csv", false, "CSV with a header row, for spreadsheets")
	fs.BoolVar(&f.table, "table", false, "an aligned table (the default on a terminal)")
}

// query turns the flags into a query; region decides numbers typed without
// a country code.
func (f *queryFlags) query(region string, now time.Time) (audit.Query, error) {
	q := f.q
	q.Zone = f.zone()
	var err error
	if f.called != "" {
		if q.Called, err = number.Normalize(f.called, region); err != nil {
			return q, fmt.Errorf("--called: %w", err) // err quotes the number
		}
	}
	if f.caller != "" {
		// A caller ID that is no number is kept as sent, and matched so.
		if q.Caller, err = number.Normalize(f.caller, region); err != nil {
			q.Caller = f.caller
		}
	}
	if f.since != "" {
		if q.Since, err = audit.ParseTime(f.since, q.Zone, now, false); err != nil {
			return q, fmt.Errorf("--since: %w", err)
		}
	}
	if f.until != "" {
		if q.Until, err = audit.ParseTime(f.until, q.Zone, now, true); err != nil {
			return q, fmt.Errorf("--until: %w", err)
		}
	}
	if q.Decision != "" && q.Decision != "allow" && q.Decision != "reject" {
		return q, fmt.Errorf("--decision %q: allow or reject", q.Decision)
	}
	return q, nil
}

func (f *queryFlags) zone() *time.Location {
	if f.utc {
		return time.UTC
	}
	return time.Local
}

// format is the output form the flags ask for: table on a terminal, else
// JSON Lines, unless a flag says otherwise.
func (f *queryFlags) format(w io.Writer) (string, error) {
	n := 0
	for _, set := range []bool{f.json, f.csv, f.table} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return "", errors.New("give one of --json, --csv and --table")
	case f.json:
		return "json", nil
	case f.csv:
		return "csv", nil
	case f.table:
		return "table", nil
	}
	if file, ok := w.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
		return "table", nil
	}
	return "json", nil
}

// resolve returns the audit folder (dir from --dir, else the config's) and
// the query the flags ask for, numbers without a country code taken in the
// config's default_region.
func (f *queryFlags) resolve(cmd *cobra.Command, dir string) (string, audit.Query, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return "", audit.Query{}, err
	}
	if dir == "" {
		dir = cfg.Path(cfg.Audit.Dir)
	}
	if err := checkAuditDir(dir); err != nil {
		return "", audit.Query{}, err
	}
	q, err := f.query(cfg.DefaultRegion, time.Now())
	return dir, q, err
}

func newAuditQueryCmd(dir *string) *cobra.Command {
	var f queryFlags
	var long bool
	cmd := &cobra.Command{
		Use:   "query [filters] [--json | --csv | --table | --long]",
		Short: "List the calls that match: each decision with its outcome",
		Example: "  gatekeeper audit query --called 202-555-0199\n" +
			"  gatekeeper audit query --called 202-555-0199 --decision reject --long\n" +
			"  gatekeeper audit query --since 2031-05-01 --until 2031-05-31 --csv > may.csv",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, q, err := f.resolve(cmd, *dir)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			format := "long"
			if !long {
				if format, err = f.format(out); err != nil {
					return err
				}
			} else if f.json || f.csv || f.table {
				return errors.New("give one of --long, --json, --csv and --table")
			}
			w := newCallWriter(out, format, q.Zone)
			n := 0
			for c, err := range audit.Search(dir, q) {
				if err != nil {
					return err
				}
				if err := w.write(c); err != nil {
					return err
				}
				n++
			}
			if err := w.close(); err != nil {
				return err
			}
			if n == 0 && (format == "table" || format == "long") {
				fmt.Fprintf(cmd.ErrOrStderr(), "no call in %s matches\n", dir)
			}
			if n == 0 && f.q.Rule != "" {
				if known := loggedRuleNames(dir); !known[f.q.Rule] {
					fmt.Fprintf(cmd.ErrOrStderr(), "no policy kept in %s has a rule named %q (rules: %s)\n",
						filepath.Join(dir, audit.PoliciesDir), f.q.Rule, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
				}
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().IntVar(&f.q.Limit, "limit", 0, "stop after this many calls (0: all)")
	cmd.Flags().BoolVarP(&long, "long", "l", false, "every call in full: why it was decided (the rules, conditions and data versions consulted), the policy, the outcome, the record")
	return cmd
}

// callWriter writes calls in one of the output forms.
type callWriter struct {
	format string
	zone   *time.Location
	out    io.Writer
	tw     *tabwriter.Writer
	csv    *csv.Writer
	n      int
}

// tableColumns are the table's columns (the CSV's are audit.CSVColumns).
var tableColumns = []string{"TIME", "CALLED", "CALLER", "DECISION", "STATUS", "RULE", "CAMPAIGN", "DIALER", "OUTCOME", "CALL-ID"}

func newCallWriter(out io.Writer, format string, zone *time.Location) *callWriter {
	w := &callWriter{format: format, zone: zone, out: out}
	switch format {
	case "table":
		w.tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	case "csv":
		w.csv = csv.NewWriter(out)
	}
	return w
}

// cellWidth bounds a table cell: a long Call-ID or campaign must not push
// the other columns off the screen.
const cellWidth = 28

// cell shortens s to cellWidth runes, marking the cut with "…", and keeps
// tabs and newlines out of the table.
func cell(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 {
			return ' '
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= cellWidth {
		return s
	}
	return string([]rune(s)[:cellWidth-1]) + "…"
}

// localTime shows a time to the second in zone, with the zone's name.
func localTime(t time.Time, zone *time.Location) string {
	return t.In(zone).Format("2006-01-02 15:04:05 MST")
}

func (w *callWriter) write(c audit.Call) error {
	w.n++
	d := &c.Decision
	switch w.format {
	case "json":
		line, _ := c.MarshalJSON()
		_, err := w.out.Write(append(line, '\n'))
		return err
	case "csv":
		if w.n == 1 {
			if err := w.csv.Write(audit.CSVColumns); err != nil {
				return err
			}
		}
		return w.csv.Write(c.CSVRow(w.zone))
	case "long":
		return w.writeLong(c)
	}
	if w.n == 1 {
		fmt.Fprintln(w.tw, strings.Join(tableColumns, "\t"))
	}
	_, err := fmt.Fprintln(w.tw, strings.Join([]string{localTime(d.Time, w.zone), cell(d.Called), cell(d.Caller), cell(decisionText(d)),
		strconv.Itoa(d.Status), cell(d.Rule), cell(d.Campaign), cell(d.Dialer), cell(outcomeText(c)), cell(d.CallID)}, "\t"))
	return err
}

// decisionText is the decision, marked when a monitored rule let the call
// through.
func decisionText(d *audit.Record) string {
	if d.Monitor {
		return d.Decision + " (monitor)"
	}
	return d.Decision
}

// outcomeText is what became of the call, in a few words.
func outcomeText(c audit.Call) string {
	switch {
	case c.Outcome != nil && c.Outcome.Disposition == "answered":
		return fmt.Sprintf("answered %s", time.Duration(c.Outcome.DurationS*float64(time.Second)).Round(time.Second))
	case c.Outcome != nil:
		return c.Outcome.Disposition
	case c.Decision.Decision == "allow":
		return "none logged" // still up, or the gatekeeper stopped first
	}
	return "-" // rejected: the decision is the whole story
}

// placeText shows where the policy took the called party to be, as
// "area_code 202, state DC, ...", in the record's order.
func placeText(raw json.RawMessage) string {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return string(raw)
	}
	var parts []string
	for dec.More() {
		key, err := dec.Token()
		var value json.RawMessage
		if err != nil || dec.Decode(&value) != nil {
			return string(raw)
		}
		text := strings.Trim(string(value), `"`)
		var list []string
		if json.Unmarshal(value, &list) == nil {
			text = strings.Join(list, ", ")
		}
		parts = append(parts, fmt.Sprintf("%v %s", key, text))
	}
	return strings.Join(parts, ", ")
}

// writeLong writes one call in full: what was decided, why, on which data,
// under which policy, and what became of it.
func (w *callWriter) writeLong(c audit.Call) error {
	d := &c.Decision
	var b strings.Builder
	if w.n > 1 {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%s  call %s\n", localTime(d.Time, w.zone), d.CallID)
	fmt.Fprintf(&b, "  called    %s   caller %s   dialer %s   campaign %s", d.Called, d.Caller, d.Dialer, d.Campaign)
	if c.Seller != "" {
		fmt.Fprintf(&b, "   seller %s", c.Seller)
	}
	fmt.Fprintf(&b, "\n  decision  %s %d", decisionText(d), d.Status)
	if d.Reason != "" {
		fmt.Fprintf(&b, " %q", d.Reason)
	}
	fmt.Fprintf(&b, " by rule %s (policy mode %s)\n", d.Rule, d.Mode)
	if d.Monitor {
		fmt.Fprintf(&b, "  would     %s %d %q\n", d.Would.Decision, d.Would.Status, d.Would.Reason)
	}
	if d.Error != "" {
		fmt.Fprintf(&b, "  error     %s\n", d.Error)
	}
	if len(d.CalledPlace) > 0 {
		fmt.Fprintf(&b, "  place     %s\n", placeText(d.CalledPlace))
	}
	var tr policy.Trace
	if len(d.Trace) > 0 && json.Unmarshal(d.Trace, &tr) == nil {
		for i, r := range tr {
			label := "  rules     "
			if i > 0 {
				label = "            "
			}
			verdict := "did not match"
			if r.Matched {
				verdict = "matched"
			}
			fmt.Fprintf(&b, "%s%s: %s\n", label, r.Rule, verdict)
			for _, cond := range r.Conditions {
				fmt.Fprintf(&b, "              %s %s", cond.Kind, map[bool]string{true: "holds", false: "does not hold"}[cond.Holds])
				if cond.Value != "" {
					fmt.Fprintf(&b, ", value %q", cond.Value)
				}
				if v := versionsText(cond); v != "" {
					fmt.Fprintf(&b, ", data %s", v)
				}
				if cond.Record != "" {
					fmt.Fprintf(&b, ", record %q", cond.Record)
				}
				if cond.Count != 0 {
					fmt.Fprintf(&b, ", count %d", cond.Count)
				}
				b.WriteString("\n")
			}
		}
	}
	fmt.Fprintf(&b, "  policy    sha256 %s (its text: %s/%s.yaml in the audit folder)\n", d.PolicySHA256, audit.PoliciesDir, d.PolicySHA256)
	if o := c.Outcome; o != nil {
		fmt.Fprintf(&b, "  outcome   %s, status %d, %.3f s connected, ended by %s at %s\n", o.Disposition, o.Status, o.DurationS, o.EndedBy, localTime(o.Ended.Time, w.zone))
	} else if d.Decision == "allow" {
		b.WriteString("  outcome   none logged (the call is still up, or the gatekeeper stopped before it ended)\n")
	}
	fmt.Fprintf(&b, "  record    seq %d, hash %s, build %s\n", d.Seq, d.Hash, d.Version)
	_, err := io.WriteString(w.out, b.String())
	return err
}

func (w *callWriter) close() error {
	switch {
	case w.tw != nil:
		return w.tw.Flush()
	case w.csv != nil:
		w.csv.Flush()
		return w.csv.Error()
	}
	return nil
}

func newAuditStatsCmd(dir *string) *cobra.Command {
	var f queryFlags
	var by string
	cmd := &cobra.Command{
		Use:   "stats [--by day,rule,...] [filters] [--json | --csv | --table]",
		Short: "Count calls per rule, day, campaign, dialer...: allowed, rejected, the reject rate",
		Example: "  gatekeeper audit stats --since today --by rule\n" +
			"  gatekeeper audit stats --since 7d --by day,rule --decision reject\n" +
			"  gatekeeper audit stats --since 2031-05-01 --until 2031-05-31 --by campaign,dialer --csv",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, q, err := f.resolve(cmd, *dir)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			format, err := f.format(out)
			if err != nil {
				return err
			}
			var groups []string
			if by != "" {
				groups = strings.Split(by, ",")
			}
			rows, err := audit.Stats(dir, q, groups)
			if errors.Is(err, audit.ErrUnknownGroup) {
				return fmt.Errorf("--by: %w", err)
			}
			if err != nil {
				return err
			}
			return writeStats(out, format, groups, rows)
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&by, "by", "rule", "group by these, comma-separated: "+strings.Join(audit.StatsGroups, ", ")+" (days and hours in local time, or UTC with --utc); empty: totals only")
	return cmd
}

func writeStats(out io.Writer, format string, groups []string, rows []audit.Row) error {
	rate := func(r audit.Row) string { return strconv.FormatFloat(100*r.RejectRate(), 'f', 1, 64) }
	counts := func(r audit.Row) []string {
		return []string{strconv.FormatInt(r.Calls, 10), strconv.FormatInt(r.Allowed, 10), strconv.FormatInt(r.Rejected, 10),
			rate(r), strconv.FormatInt(r.Monitored, 10)}
	}
	switch format {
	case "json":
		for _, r := range rows {
			obj := map[string]any{"calls": r.Calls, "allowed": r.Allowed, "rejected": r.Rejected,
				"reject_rate": r.RejectRate(), "monitored": r.Monitored}
			for i, g := range groups {
				obj[g] = r.Group[i]
			}
			line, err := json.Marshal(obj)
			if err != nil {
				return err
			}
			if _, err := out.Write(append(line, '\n')); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		w := csv.NewWriter(out)
		w.Write(append(append([]string{}, groups...), "calls", "allowed", "rejected", "reject_pct", "monitored"))
		for _, r := range rows {
			w.Write(append(append([]string{}, r.Group...), counts(r)...))
		}
		w.Flush()
		return w.Error()
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	var header []string
	for _, g := range groups {
		header = append(header, strings.ToUpper(g))
	}
	fmt.Fprintln(tw, strings.Join(append(header, "CALLS", "ALLOWED", "REJECTED", "REJECT %", "MONITORED"), "\t"))
	var total audit.Row
	for _, r := range rows {
		cells := make([]string, 0, len(r.Group))
		for _, v := range r.Group {
			if v == "" {
				v = "-"
			}
			cells = append(cells, cell(v))
		}
		fmt.Fprintln(tw, strings.Join(append(cells, counts(r)...), "\t"))
		total.Calls, total.Allowed, total.Rejected, total.Monitored = total.Calls+r.Calls, total.Allowed+r.Allowed, total.Rejected+r.Rejected, total.Monitored+r.Monitored
	}
	if len(rows) > 1 && len(groups) > 0 {
		cells := make([]string, len(groups))
		cells[0] = "total"
		fmt.Fprintln(tw, strings.Join(append(cells, counts(total)...), "\t"))
	}
	return tw.Flush()
}

// loggedRuleNames are the rule names of every policy kept in the audit
// folder dir (and default, which decides the calls no rule matched), so
// that a --rule no policy ever had is told, not mistaken for a rule that
// decided no call.
func loggedRuleNames(dir string) map[string]bool {
	names := map[string]bool{"default": true}
	paths, _ := filepath.Glob(filepath.Join(dir, audit.PoliciesDir, "*.yaml"))
	for _, path := range paths {
		text, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if e, err := policy.Parse(path, text, nil); err == nil {
			for _, name := range e.RuleNames() {
				names[name] = true
			}
		}
	}
	return names
}
