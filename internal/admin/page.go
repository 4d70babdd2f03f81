package admin

import (
	"embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"iter"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/internal/number"
	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// The page is rendered on the server by html/template, which escapes every
// record field for where it stands (text, attribute, URL, script data); its
// charts are drawn by Chart.js from data the page carries as JSON.
//
//go:embed web
var webEmbedded embed.FS

// webFiles is the web folder: assets/ is served as it is, templates/ parsed once.
var webFiles, _ = fs.Sub(webEmbedded, "web")

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"utc":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000Z") },
	"percent": func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + " %" },
}).ParseFS(webFiles, "templates/*.html"))

// pageLimit bounds the calls a search shows; the CSV export has them all.
const pageLimit = 500

// searchView is what the search page shows.
type searchView struct {
	Form      url.Values   // the filters as typed, to refill the form
	Query     template.URL // the search's filters, encoded, for the CSV link
	Calls     []audit.Call
	Truncated bool // the search found more than pageLimit calls
	Charts    chartData
	Lists     []listView
	Error     string
}

// chartData is the charts' data, read by app.js.
type chartData struct {
	// Days and RuleCounts: decisions per rule per day, RuleCounts[rule][i]
	// the calls of Days[i] that rule decided.
	Days       []string           `json:"days"`
	Rules      []string           `json:"rules"`
	RuleCounts map[string][]int64 `json:"rule_counts"`
	// Campaigns, their calls, rejected calls and reject rate in percent
	// (one decimal).
	Campaigns  []string  `json:"campaigns"`
	Calls      []int64   `json:"calls"`
	Rejected   []int64   `json:"rejected"`
	RejectRate []float64 `json:"reject_rate"`
}

// listView is one list as the page shows it.
type listView struct {
	Name       string
	Version    uint64
	SourceDate string
	AgeDays    string
	Count      int64
}

// searchPage answers / with the search form, the calls found, the charts
// of the same search and the lists.
func (wb *Web) searchPage(w http.ResponseWriter, r *http.Request) error {
	form := r.URL.Query()
	// Encode writes only letters, digits, %XX, = and &: safe to put after "?" in an href.
	v := searchView{Form: form, Query: template.URL(form.Encode())}
	q, err := wb.query(v.Form)
	if err == nil {
		err = wb.fill(&v, q)
	}
	if err != nil {
		if statusOf(err) >= 500 {
			return err
		}
		v.Error = err.Error()
	}
	lists, err := wb.lists()
	if err != nil {
		return err
	}
	v.Lists = lists
	return render(w, "search.html", v)
}

// fill runs the search and the charts' counts for q.
func (wb *Web) fill(v *searchView, q audit.Query) error {
	q.Limit = pageLimit + 1
	for c, err := range audit.Search(wb.AuditDir, q) {
		if err != nil {
			return err
		}
		v.Calls = append(v.Calls, c)
	}
	if len(v.Calls) > pageLimit {
		v.Calls, v.Truncated = v.Calls[:pageLimit], true
	}
	byRule, err := audit.Stats(wb.AuditDir, q, []string{"day", "rule"})
	if err != nil {
		return err
	}
	byCampaign, err := audit.Stats(wb.AuditDir, q, []string{"campaign"})
	if err != nil {
		return err
	}
	v.Charts = charts(byRule, byCampaign)
	return nil
}

// charts lays out the counts for the two charts.
func charts(byDayRule, byCampaign []audit.Row) chartData {
	c := chartData{RuleCounts: map[string][]int64{}}
	day := map[string]int{}
	for _, r := range byDayRule { // sorted by day, then rule
		if _, ok := day[r.Group[0]]; !ok {
			day[r.Group[0]] = len(c.Days)
			c.Days = append(c.Days, r.Group[0])
		}
	}
	for _, r := range byDayRule {
		rule := r.Group[1]
		if c.RuleCounts[rule] == nil {
			c.Rules = append(c.Rules, rule)
			c.RuleCounts[rule] = make([]int64, len(c.Days))
		}
		c.RuleCounts[rule][day[r.Group[0]]] = r.Calls
	}
	for _, r := range byCampaign {
		c.Campaigns = append(c.Campaigns, r.Group[0])
		c.Calls = append(c.Calls, r.Calls)
		c.Rejected = append(c.Rejected, r.Rejected)
		c.RejectRate = append(c.RejectRate, math.Round(1000*r.RejectRate())/10)
	}
	return c
}

func (wb *Web) lists() ([]listView, error) {
	lists, err := wb.Lists()
	if err != nil {
		return nil, err
	}
	now := wb.Now()
	out := make([]listView, 0, len(lists))
	for _, l := range lists {
		v := listView{Name: l.Name, Version: l.Version, SourceDate: "-", AgeDays: "-", Count: l.Count}
		if l.Version != 0 { // a list of live changes only has no date
			v.SourceDate = l.SourceDate
			v.AgeDays = strconv.FormatFloat(now.Sub(l.AsOf()).Hours()/24, 'f', 1, 64)
		}
		out = append(out, v)
	}
	return out, nil
}

// callView is what the page of one call shows.
type callView struct {
	CallID string
	Calls  []callDetail
}

// callDetail is one decision of the call, its outcome and the trace read
// from its record.
type callDetail struct {
	audit.Call
	Place map[string]any
	Trace policy.Trace
}

// callPage answers /call?id=CALL-ID: the call's decision with its full
// trace, its outcome, and the link to its evidence bundle.
func (wb *Web) callPage(w http.ResponseWriter, r *http.Request) error {
	id, err := param(r, "id")
	if err != nil {
		return err
	}
	v := callView{CallID: id}
	for c, err := range audit.Search(wb.AuditDir, audit.Query{CallID: id}) {
		if err != nil {
			return err
		}
		d := callDetail{Call: c}
		// Both fields are written by the gatekeeper itself; a record without them shows none.
		json.Unmarshal(c.Decision.CalledPlace, &d.Place)
		json.Unmarshal(c.Decision.Trace, &d.Trace)
		v.Calls = append(v.Calls, d)
	}
	if len(v.Calls) == 0 {
		return withStatus(http.StatusNotFound, fmt.Errorf("no decision for call %q in the log", id))
	}
	return render(w, "call.html", v)
}

// evidence answers /evidence?id=CALL-ID with the call's evidence bundle
// (audit.Evidence) as a file to download.
func (wb *Web) evidence(w http.ResponseWriter, r *http.Request) error {
	id, err := param(r, "id")
	if err != nil {
		return err
	}
	b, err := audit.Evidence(wb.AuditDir, audit.EvidenceQuery{CallID: id}, wb.Verifier)
	if errors.Is(err, audit.ErrNoSuchCall) {
		return withStatus(http.StatusNotFound, err)
	}
	if err != nil {
		return withStatus(http.StatusConflict, err)
	}
	data, err := b.Encode()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", b.FileName()))
	w.Write(data)
	return nil
}

// exportCSV answers /audit.csv with every call the search with the same
// query parameters finds, one row each (audit.CSVColumns, times in UTC).
func (wb *Web) exportCSV(w http.ResponseWriter, r *http.Request) error {
	q, err := wb.query(r.URL.Query())
	if err != nil {
		return err
	}
	next, stop := iter.Pull2(audit.Search(wb.AuditDir, q))
	defer stop()
	c, err, more := next()
	if err != nil {
		return err // nothing written yet: the error goes back with its status
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit.csv"`)
	out := csv.NewWriter(w)
	out.Write(audit.CSVColumns)
	for ; more; c, err, more = next() {
		if err != nil {
			// The answer has begun: the error ends it as a last row, which a
			// reader cannot take for a call.
			out.Write([]string{"error: " + err.Error()})
			break
		}
		out.Write(c.CSVRow(time.UTC))
	}
	out.Flush()
	return out.Error()
}

// query reads the search's filters from the page's form: since and until
// (as audit.ParseTime reads them, in UTC; a date alone for until takes in
// the whole day), called and caller (any form; numbers without a country
// code are in wb.Region), call_id, decision, rule, campaign, dialer,
// seller, status. A bad filter is a 400 that names it.
func (wb *Web) query(f url.Values) (audit.Query, error) {
	bad := func(name string, err error) (audit.Query, error) {
		return audit.Query{}, withStatus(http.StatusBadRequest, fmt.Errorf("%s: %w", name, err)) // err quotes the value
	}
	q := audit.Query{CallID: f.Get("call_id"), Decision: f.Get("decision"), Rule: f.Get("rule"),
		Campaign: f.Get("campaign"), Dialer: f.Get("dialer"), Seller: f.Get("seller"), Zone: time.UTC}
	var err error
	for _, t := range []struct {
		name string
		to   *time.Time
		end  bool
	}{{"since", &q.Since, false}, {"until", &q.Until, true}} {
		if s := f.Get(t.name); s != "" {
			if *t.to, err = audit.ParseTime(s, time.UTC, wb.Now(), t.end); err != nil {
				return bad(t.name, err)
			}
		}
	}
	if s := f.Get("called"); s != "" {
		if q.Called, err = number.Normalize(s, wb.Region); err != nil {
			return bad("called", err)
		}
	}
	if s := f.Get("caller"); s != "" {
		// A caller ID that is no number is kept as sent, and matched so.
		if q.Caller, err = number.Normalize(s, wb.Region); err != nil {
			q.Caller = s
		}
	}
	if s := f.Get("status"); s != "" {
		if q.Status, err = strconv.Atoi(s); err != nil {
			return bad("status", fmt.Errorf("%q: not a SIP status code", s))
		}
	}
	return q, nil
}

// render writes a page; a template that fails before writing is a 500.
func render(w http.ResponseWriter, name string, v any) error {
	var b strings.Builder
	if err := pages.ExecuteTemplate(&b, name, v); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, err := w.Write([]byte(b.String()))
	return err
}
