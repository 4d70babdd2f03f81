// Command auditquery measures audit queries over a large decision log: it
// writes days of generated calls with the real audit.Log (decisions with a
// trace, outcomes of the allowed calls), waits until the server's upkeep
// has compressed and indexed every complete file, then times Search for
// one number over one day and over every day, and Stats over one day.
//
//	go run ./bench/auditquery -work /work/tmp/auditquery -days 1 -records 10000000
//	go run ./bench/auditquery -work /work/tmp/auditquery30 -days 30 -records 300000 -max-file 32MiB
//
// The figures go to stdout (docs/benchmarks.md keeps them). The folder is
// emptied first and left behind for a second look (-keep=false removes it).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/policy"
)

func main() {
	work := flag.String("work", "/work/tmp/auditquery", "folder for the log (emptied first)")
	days := flag.Int("days", 1, "days of calls")
	records := flag.Int("records", 10_000_000, "records per day: decisions and outcomes")
	numbers := flag.Int("numbers", 3_000_000, "distinct called numbers per day")
	maxFile := flag.String("max-file", "1GiB", "audit MaxFileSize (a file part's size), in MiB or GiB")
	queries := flag.Int("queries", 20, "number queries timed per measure")
	keep := flag.Bool("keep", true, "keep the folder")
	flag.Parse()
	size, err := parseSize(*maxFile)
	if err == nil {
		err = run(*work, *days, *records, *numbers, size, *queries)
	}
	if err == nil && !*keep {
		err = os.RemoveAll(*work)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditquery:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int64, error) {
	for suffix, unit := range map[string]int64{"MiB": 1 << 20, "GiB": 1 << 30} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			return v * unit, err
		}
	}
	return 0, fmt.Errorf("-max-file %q: want MiB or GiB", s)
}

// first is the first generated day; the log holds nothing of today, so that
// every generated day is complete once the writer moves past it.
var first = time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC)

// number is the i-th called number of a day's pool.
func number(i int) string { return fmt.Sprintf("+1202%07d", 2000000+i) }

// traceAllowed and traceRejected are the traces of an allowed call and of
// one rejected by internal-dnc, in policy's own types and encoded as serve
// encodes a decision's trace, so that they are what the server writes: a
// condition that does not hold still cites the data versions it consulted.
var (
	traceAllowed = encodeTrace(policy.Trace{
		{Rule: "internal-dnc", Conditions: []policy.ConditionTrace{{Kind: "listed", Version: 97}}},
		{Rule: "national-dnc", Conditions: []policy.ConditionTrace{{Kind: "listed", Version: 412}}},
		{Rule: "mobile-automated-consent", Conditions: []policy.ConditionTrace{
			{Kind: "dial_mode", Holds: true, Value: "automated"},
			{Kind: "line_type", Value: "landline from block", Versions: []uint64{408, 409, 31}}}},
		{Rule: "federal-hours", Conditions: []policy.ConditionTrace{{Kind: "outside_hours", Value: "America/New_York"}}},
	})
	traceRejected = encodeTrace(policy.Trace{
		{Rule: "internal-dnc", Matched: true, Conditions: []policy.ConditionTrace{{Kind: "listed", Holds: true, Value: "internal", Version: 97}}},
	})
)

func encodeTrace(trace policy.Trace) json.RawMessage { return trace.AppendJSON(nil) }

const place = `{"area_code":"202","state":"DC","time_zones":["America/New_York"],"local_time":"2031-05-01T14:03:00-04:00"}`

func run(work string, days, records, numbers int, maxFile int64, queries int) error {
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := time.Now()
	l, err := audit.Open(work, audit.Options{Logger: logger, QueueSize: 1 << 18, MaxFileSize: maxFile, Retain: -1, Version: "bench"})
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	campaigns := []string{"spring", "summer", "fall", "winter", "renewals", "win-back"}
	dialers := []string{"predictive", "preview", "manual"}
	// A day's records are spread over its 24 hours; about two thirds of the
	// calls are allowed and get an outcome, so calls ≈ records / 1.66.
	calls := int(float64(records) / 1.66)
	written := 0
	// The numbers queried: called on the first day, spread over it.
	var picks []string
	for d := range days {
		day := first.AddDate(0, 0, d)
		step := 24 * time.Hour / time.Duration(calls)
		for i := range calls {
			at := day.Add(time.Duration(i) * step)
			called := number(rng.IntN(numbers))
			r := audit.Record{
				Time: at, CallID: fmt.Sprintf("%016x@dialer-%d.example.com", rng.Uint64(), i%7), Called: called,
				Caller: "+13125550100", Dialer: dialers[i%3], Campaign: campaigns[i%6], Source: "10.1.2.3:5060",
				Mode: "enforce", DialMode: "automated", CalledPlace: json.RawMessage(place), PolicySHA256: strings.Repeat("9f", 32),
				Decision: "allow", Rule: "default", Status: 200, Trace: traceAllowed,
			}
			if i%3 == 0 {
				r.Decision, r.Rule, r.Status, r.Reason, r.Trace = "reject", "internal-dnc", 603, "Decline", traceRejected
			}
			l.Append(r)
			written++
			if d == 0 && len(picks) < queries && i%(calls/queries) == calls/queries/2 {
				picks = append(picks, called)
			}
			if r.Decision == "allow" {
				ended := at.Add(90 * time.Second)
				answered := audit.Time{Time: at.Add(8 * time.Second)}
				o := audit.Outcome{CallID: r.CallID, Called: called, Calling: "3125550100", CallerID: r.Caller, Dialer: r.Dialer, Seller: "acme",
					Campaign: r.Campaign, DialMode: "automated", Status: 200, Disposition: "answered",
					Invited: audit.Time{Time: at}, Answered: &answered, Ended: audit.Time{Time: ended}, DurationS: 82, EndedBy: "dialer"}
				if err := l.AppendEvent(audit.KindOutcome, ended, o); err != nil {
					return err
				}
				written++
			}
			if written%4096 == 0 {
				for l.Health() != nil {
					time.Sleep(time.Millisecond)
				}
			}
		}
	}
	// One record of the next day makes the last generated day complete.
	l.Append(audit.Record{Time: first.AddDate(0, 0, days), CallID: "last", Decision: "allow", Rule: "default", Status: 200, Called: number(0)})
	wrote := time.Since(start)
	if err := l.Close(); err != nil {
		return err
	}
	if n := l.Dropped(); n > 0 {
		return fmt.Errorf("%d records dropped", n)
	}
	// Files complete faster than they are compressed here; a start
	// compresses and indexes those left behind, as a server's restart does.
	if l, err = audit.Open(work, audit.Options{Logger: logger, MaxFileSize: maxFile, Retain: -1}); err != nil {
		return err
	}
	if err := waitForUpkeep(work, days); err != nil {
		return err
	}
	upkept := time.Since(start)
	if err := l.Close(); err != nil {
		return err
	}
	logBytes, indexBytes, files := folderSize(work)
	fmt.Printf("| records written | %d (%d days × %d), %d files, %.1f GB compressed, index %.0f MB |\n", written+1, days, records, files, float64(logBytes)/1e9, float64(indexBytes)/1e6)
	fmt.Printf("| write (audit.Log, one writer) | %s, %.2f µs/record |\n", wrote.Round(time.Second), float64(wrote.Microseconds())/float64(written))
	fmt.Printf("| compress and index until done | %s after the start |\n", upkept.Round(time.Second))

	oneDay := audit.Query{Since: first, Until: first.AddDate(0, 0, 1)}
	if err := timeQueries("one number, one day", work, oneDay, picks); err != nil {
		return err
	}
	if days > 1 {
		all := audit.Query{Since: first, Until: first.AddDate(0, 0, days)}
		if err := timeQueries(fmt.Sprintf("one number, %d days", days), work, all, picks); err != nil {
			return err
		}
	}
	if err := timeQueries("one number, no time range (every file)", work, audit.Query{}, picks[:min(5, len(picks))]); err != nil {
		return err
	}
	t0 := time.Now()
	rows, err := audit.Stats(work, oneDay, []string{"rule"})
	if err != nil {
		return err
	}
	var n int64
	for _, r := range rows {
		n += r.Calls
	}
	fmt.Printf("| stats --by rule, one day (%d calls; the indexes' hourly counts) | %s |\n", n, time.Since(t0).Round(time.Millisecond))
	// A range that cuts hours: the files it touches are read.
	cut := audit.Query{Since: first.Add(12*time.Hour + 30*time.Minute), Until: first.Add(13*time.Hour + 30*time.Minute)}
	t0 = time.Now()
	if rows, err = audit.Stats(work, cut, []string{"rule"}); err != nil {
		return err
	}
	n = 0
	for _, r := range rows {
		n += r.Calls
	}
	fmt.Printf("| stats --by rule, 12:30 to 13:30 (%d calls; the blocks of the two hours it cuts read) | %s |\n", n, time.Since(t0).Round(time.Millisecond))
	return nil
}

// timeQueries runs a number query per pick and prints the median and the
// slowest, with the calls found.
func timeQueries(what, dir string, q audit.Query, picks []string) error {
	var times []time.Duration
	found := 0
	for _, p := range picks {
		q.Called = p
		t0 := time.Now()
		for _, err := range audit.Search(dir, q) {
			if err != nil {
				return err
			}
			found++
		}
		times = append(times, time.Since(t0))
	}
	slices.Sort(times)
	fmt.Printf("| %s (%d queries, %d calls found) | median %s, slowest %s |\n", what, len(picks), found,
		times[len(times)/2].Round(time.Microsecond*100), times[len(times)-1].Round(time.Microsecond*100))
	return nil
}

// waitForUpkeep waits until every generated day's files are compressed and
// indexed (index/NAME.idx for each decisions-*.jsonl.gz), the writer's
// file aside.
func waitForUpkeep(dir string, days int) error {
	last := first.AddDate(0, 0, days).Format("2006-01-02")
	for deadline := time.Now().Add(2 * time.Hour); time.Now().Before(deadline); time.Sleep(time.Second) {
		names, err := filepath.Glob(filepath.Join(dir, "decisions-*.jsonl*"))
		if err != nil {
			return err
		}
		done := true
		for _, name := range names {
			base := filepath.Base(name)
			if strings.Contains(base, last) || strings.HasSuffix(base, ".tmp") {
				continue
			}
			if !strings.HasSuffix(base, ".gz") {
				done = false
				break
			}
			if _, err := os.Stat(filepath.Join(dir, "index", base+".idx")); err != nil {
				done = false
				break
			}
		}
		if done {
			return nil
		}
	}
	return fmt.Errorf("upkeep not done after 2 hours")
}

func folderSize(dir string) (logBytes, indexBytes int64, files int) {
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		switch {
		case strings.HasSuffix(path, ".idx"):
			indexBytes += info.Size()
		case strings.HasPrefix(info.Name(), "decisions-"):
			logBytes += info.Size()
			files++
		}
		return nil
	})
	return logBytes, indexBytes, files
}
