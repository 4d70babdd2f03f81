package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StatsGroups are the names Stats groups calls by: the decision's date
// (day YYYY-MM-DD, month YYYY-MM, hour YYYY-MM-DDTHH in Query.Zone) and its
// fields.
var StatsGroups = []string{"day", "month", "hour", "rule", "decision", "status", "campaign", "dialer", "seller", "mode"}

// Row counts the calls of one group: Group holds its values, in the order
// of the names given to Stats.
type Row struct {
	Group []string `json:"group"`
	// Calls counts the decisions; Allowed and Rejected split them. Monitored
	// counts the allowed calls a monitored rule would have rejected.
	Calls     int64 `json:"calls"`
	Allowed   int64 `json:"allowed"`
	Rejected  int64 `json:"rejected"`
	Monitored int64 `json:"monitored"`
}

// RejectRate is Rejected / Calls, 0 for no call.
func (r Row) RejectRate() float64 {
	if r.Calls == 0 {
		return 0
	}
	return float64(r.Rejected) / float64(r.Calls)
}

// Stats counts the calls Search would return for q (its Limit aside),
// grouped by the names in by (StatsGroups; none: one row of totals). Rows
// come sorted by their group values. An unknown name is ErrUnknownGroup.
//
// Counts by time, decision, rule, status, campaign, dialer, seller and mode
// come from the counts each complete file's index keeps per hour, for the
// hours the time range takes whole, and from the lines of the blocks that
// hold an hour it cuts; the writer's file is read. The seller counted is
// the decision's (a record written before decisions had one counts under
// ""). A number, caller or Call-ID goes through Search.
func Stats(dir string, q Query, by []string) ([]Row, error) {
	for _, g := range by {
		if !slices.Contains(StatsGroups, g) {
			return nil, fmt.Errorf("%w: %q (one of %s)", ErrUnknownGroup, g, strings.Join(StatsGroups, ", "))
		}
	}
	if q.Zone == nil {
		q.Zone = time.UTC
	}
	q.Limit = 0
	t := &tally{q: q, by: by, rows: map[string]*Row{}}
	var err error
	if q.Called != "" || q.Caller != "" || q.CallID != "" {
		for c, serr := range Search(dir, q) {
			if serr != nil {
				return nil, serr
			}
			t.add(summaryOf(&c.Decision, c.Seller), 1)
		}
	} else {
		err = t.count(dir)
	}
	if err != nil {
		return nil, err
	}
	out := make([]Row, 0, len(t.rows))
	for _, r := range t.rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Row) int { return slices.Compare(a.Group, b.Group) })
	return out, nil
}

// summary is what Stats counts of a decision. In an index's counts, time
// is the start of the hour.
type summary struct {
	time                                   time.Time
	decision, rule, campaign, dialer, mode string
	seller                                 string
	status                                 int
	monitor                                bool
}

func summaryOf(d *Record, seller string) summary {
	return summary{d.Time, d.Decision, d.Rule, d.Campaign, d.Dialer, d.Mode, seller, d.Status, d.Monitor}
}

// summarize reads a decision's summary from its line without decoding it
// (≈ 10x faster); false for a line that is not a decision.
func summarize(line []byte) (summary, bool) {
	var s summary
	at := recordTime(line)
	if at == nil || !bytes.Contains(line, []byte(`"kind":"`+KindDecision+`"`)) {
		return s, false
	}
	var err error
	if s.time, err = time.Parse(timeLayout, string(at)); err != nil {
		return s, false
	}
	for _, f := range []struct {
		name string
		to   *string
	}{{"decision", &s.decision}, {"rule", &s.rule}, {"campaign", &s.campaign}, {"dialer", &s.dialer}, {"seller", &s.seller}, {"mode", &s.mode}} {
		raw, _ := stringField(line, f.name)
		*f.to = unescape(raw)
	}
	if i := bytes.Index(line, []byte(`"status":`)); i >= 0 {
		v := line[i+len(`"status":`):]
		for j := 0; j < len(v) && v[j] >= '0' && v[j] <= '9'; j++ {
			s.status = s.status*10 + int(v[j]-'0')
		}
	}
	s.monitor = bytes.Contains(line, []byte(`"monitor":true`))
	return s, true
}

// unescape turns a JSON string's raw bytes into the string.
func unescape(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) != nil {
		return string(raw)
	}
	return s
}

// tally adds up summaries into rows.
type tally struct {
	q    Query
	by   []string
	rows map[string]*Row
	key  []string
}

// matches tests a summary against the filters Stats counts itself.
func (t *tally) matches(s *summary) bool {
	q := &t.q
	eq := func(want, got string) bool { return want == "" || want == got }
	return eq(q.Decision, s.decision) && eq(q.Rule, s.rule) && eq(q.Campaign, s.campaign) &&
		eq(q.Dialer, s.dialer) && eq(q.Seller, s.seller) && (q.Status == 0 || q.Status == s.status)
}

func (t *tally) add(s summary, n int64) {
	t.key = t.key[:0]
	for _, g := range t.by {
		t.key = append(t.key, groupValue(g, &s, t.q.Zone))
	}
	k := strings.Join(t.key, "\x00")
	r := t.rows[k]
	if r == nil {
		r = &Row{Group: slices.Clone(t.key)}
		t.rows[k] = r
	}
	r.Calls += n
	switch s.decision {
	case "allow":
		r.Allowed += n
	case "reject":
		r.Rejected += n
	}
	if s.monitor {
		r.Monitored += n
	}
}

func groupValue(name string, s *summary, zone *time.Location) string {
	switch name {
	case "day":
		return s.time.In(zone).Format("2006-01-02")
	case "month":
		return s.time.In(zone).Format("2006-01")
	case "hour":
		return s.time.In(zone).Format("2006-01-02T15")
	case "rule":
		return s.rule
	case "decision":
		return s.decision
	case "status":
		return strconv.Itoa(s.status)
	case "campaign":
		return s.campaign
	case "dialer":
		return s.dialer
	case "seller":
		return s.seller
	case "mode":
		return s.mode
	}
	return ""
}

// inRange tests a time against Since and Until.
func (t *tally) inRange(at time.Time) bool {
	return (t.q.Since.IsZero() || !at.Before(t.q.Since)) && (t.q.Until.IsZero() || at.Before(t.q.Until))
}

// count tallies the decisions of the files q's time range may touch: from
// a complete file's hourly counts when they answer exactly, else from its
// lines.
func (t *tally) count(dir string) error {
	files, err := logFiles(dir)
	if err != nil {
		return err
	}
	for i, f := range files {
		if !t.q.Since.IsZero() && f.day < dayOf(t.q.Since) {
			continue
		}
		if !t.q.Until.IsZero() && f.day > dayOf(t.q.Until)+1 {
			break
		}
		if i < len(files)-1 {
			done, err := t.fromIndex(dir, f)
			if err != nil {
				return err
			}
			if done {
				continue
			}
		}
		err := eachLine(dir, f, func(_ position, line []byte) error {
			if s, ok := summarize(line); ok && t.inRange(s.time) && t.matches(&s) {
				t.add(s, 1)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// hourCount is one row of the counts an index keeps: the decisions of one
// hour (UTC) with the same fields.
type hourCount struct {
	Hour     int64  `json:"h"` // Unix time of the hour's start
	Decision string `json:"d"`
	Rule     string `json:"r"`
	Status   int    `json:"s"`
	Campaign string `json:"c"`
	Dialer   string `json:"di"`
	Seller   string `json:"se,omitempty"`
	Mode     string `json:"m"`
	Monitor  bool   `json:"mo,omitempty"`
	N        int64  `json:"n"`
}

// countKey is a summary's row in an index's counts.
func countKey(s *summary) hourCount {
	return hourCount{Hour: s.time.Unix() / 3600 * 3600, Decision: s.decision, Rule: s.rule, Status: s.status,
		Campaign: s.campaign, Dialer: s.dialer, Seller: s.seller, Mode: s.mode, Monitor: s.monitor}
}

// fromIndex tallies a complete file from its index: the hourly counts of
// the hours the time range takes whole, and the lines of the blocks that
// hold an hour it cuts. It says whether it could: not when the groups are
// by time in a zone whose offset is a part of an hour.
func (t *tally) fromIndex(dir string, f logFile) (bool, error) {
	ix, f, err := indexOf(context.Background(), dir, f, nil)
	if err != nil {
		return false, err
	}
	defer ix.Close()
	counts, err := ix.hourCounts()
	if err != nil {
		return false, err
	}
	byTime := slices.ContainsFunc(t.by, func(g string) bool { return g == "day" || g == "month" || g == "hour" })
	var take []summary
	var n []int64
	cut := map[int64]bool{} // hours the range cuts
	for _, c := range counts {
		start := time.Unix(c.Hour, 0)
		if byTime && start.In(t.q.Zone).Minute() != 0 {
			return false, nil
		}
		in, endIn := t.inRange(start), t.inRange(start.Add(time.Hour-time.Nanosecond))
		if in != endIn {
			cut[c.Hour] = true
			continue
		}
		s := summary{time: start, decision: c.Decision, rule: c.Rule, campaign: c.Campaign, dialer: c.Dialer, seller: c.Seller, mode: c.Mode, status: c.Status, monitor: c.Monitor}
		if in && t.matches(&s) {
			take, n = append(take, s), append(n, c.N)
		}
	}
	for i, s := range take {
		t.add(s, n[i])
	}
	var blocks []int
	for i, b := range ix.blocks {
		for h := b.first / 3600 * 3600; b.first <= b.last && h <= b.last; h += 3600 {
			if cut[h] {
				blocks = append(blocks, i)
				break
			}
		}
	}
	if len(blocks) == 0 {
		return true, nil
	}
	return true, ix.readBlocks(dir, f, blocks, func(line []byte) bool {
		if s, ok := summarize(line); ok && cut[s.time.Unix()/3600*3600] && t.inRange(s.time) && t.matches(&s) {
			t.add(s, 1)
		}
		return true
	})
}
