package admin

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// hostile is a campaign id as a dialer may send it: the page must show it
// as text and the CSV must keep a spreadsheet from running it.
const hostile = `<script>alert("x")</script>`

// seededCall is one decision the test log holds.
type seededCall struct {
	at                       string
	callID, decision, rule   string
	status                   int
	campaign                 string
	outcome                  bool // an outcome record follows: answered, 42 s
	matchedKind, matchedList string
}

// seeded is the test log: two days, three rules, three campaigns.
var seeded = []seededCall{
	{"2026-11-20T15:00:00Z", "c1@dialer", "allow", "default", 200, "spring", true, "", ""},
	{"2026-11-20T15:01:00Z", "c2@dialer", "reject", "national-dnc", 603, "spring", false, "listed", "ftc"},
	{"2026-11-20T15:02:00Z", "c3@dialer", "reject", "federal-hours", 480, hostile, false, "outside_hours", "America/New_York"},
	{"2026-11-21T16:00:00Z", "c4@dialer", "reject", "national-dnc", 603, "spring", false, "listed", "ftc"},
	{"2026-11-21T16:05:00Z", "c5@dialer", "allow", "default", 200, "autumn", true, "", ""},
}

// seedLog writes the seeded calls into a real audit log in dir/audit,
// signed with the key at dir/audit.key, and returns the audit folder.
func seedLog(t *testing.T, dir string) string {
	t.Helper()
	auditDir := filepath.Join(dir, "audit")
	signer, err := audit.LoadSigner(filepath.Join(dir, "audit.key"), "gatekeeper/test")
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(auditDir, audit.Options{Signer: signer, Version: "test", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range seeded {
		at, _ := time.Parse(time.RFC3339, c.at)
		// An allowed call: the lists that did not hold its number cited by version.
		trace := `[{"rule":"national-dnc","conditions":[{"kind":"listed","versions":[8,9]}]}]`
		if c.matchedKind != "" {
			trace = `[{"rule":"caller-id","conditions":[{"kind":"caller_id","value":"valid"}]},` + // as written today: false left out
				`{"rule":"` + c.rule + `","matched":true,"conditions":[{"kind":"` + c.matchedKind + `","holds":true,"value":"` + c.matchedList + `","version":7}]}]`
		}
		l.Append(audit.Record{Time: at, CallID: c.callID, Decision: c.decision, Rule: c.rule, Status: c.status,
			Called: "+12025550143", Caller: "+13125550100", Dialer: "predictive", Campaign: c.campaign,
			Source: "127.0.0.2:5080", Mode: "enforce", DialMode: "automated", Trace: []byte(trace), PolicySHA256: "ab12"})
		if c.outcome {
			answered, ended := at.Add(2*time.Second), at.Add(44*time.Second)
			if err := l.AppendEvent(audit.KindOutcome, ended, map[string]any{"call_id": c.callID, "called": "+12025550143",
				"status": 200, "disposition": "answered", "invited": at, "answered": answered, "ended": ended,
				"duration_s": 42, "ended_by": "dialer"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Close(); err != nil { // signs the checkpoint evidence proves against
		t.Fatal(err)
	}
	return auditDir
}

// newTestWeb serves the seeded log and a registry with one list.
func newTestWeb(t *testing.T, token string) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	auditDir := seedLog(t, dir)
	verifier, err := audit.LoadVerifier(filepath.Join(dir, "audit.key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	now, _ := time.Parse(time.RFC3339, "2026-11-22T00:00:00Z")
	web := &Web{
		AuditDir: auditDir, Verifier: verifier, Region: "US", Token: token,
		Lists: func() ([]registry.ListInfo, error) {
			return []registry.ListInfo{{Name: "ftc", Version: 7, SourceDate: "2026-11-12", Count: 2}, {Name: "internal"}}, nil
		},
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "gatekeeper_up 1\n") }),
		Now:     func() time.Time { return now },
	}
	srv := httptest.NewServer(web.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(body)
}

func TestSearchPageShowsCallsListsAndEscapes(t *testing.T) {
	srv := newTestWeb(t, "")
	status, h, page := get(t, srv.URL+"/?decision=reject")
	if status != 200 || !strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'none'; script-src 'self'") {
		t.Fatalf("status %d, CSP %q", status, h.Get("Content-Security-Policy"))
	}
	for _, want := range []string{`href="/call?id=c2%40dialer"`, `href="/call?id=c4%40dialer"`,
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", `href="/audit.csv?decision=reject"`,
		"<td>ftc</td><td class=\"num\">7</td><td>2026-11-12</td><td class=\"num\">10.0</td>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	for _, unwanted := range []string{"c1@dialer", "c5@dialer", hostile} {
		if strings.Contains(page, unwanted) {
			t.Errorf("the page holds %s", unwanted)
		}
	}
	// The charts' data is JSON in a script element that runs nothing, its < escaped.
	if !strings.Contains(page, `"rule_counts":{"federal-hours":[1,0],"national-dnc":[1,1]}`) ||
		!strings.Contains(page, `"campaigns":["\u003cscript\u003ealert(\"x\")\u003c/script\u003e","spring"]`) {
		t.Errorf("chart data:\n%s", page[strings.Index(page, `id="chart-data"`):][:400])
	}
	if status, _, page := get(t, srv.URL+"/?since=May+1"); status != 200 || !strings.Contains(page, `since: &#34;May 1&#34;: want a date`) {
		t.Errorf("a bad filter: %d", status)
	}
}

func TestCallPageShowsTraceAndOutcome(t *testing.T) {
	srv := newTestWeb(t, "")
	_, _, page := get(t, srv.URL+"/call?id=c2@dialer")
	for _, want := range []string{"rule national-dnc, 603", "<td>listed</td><td>true</td><td>ftc</td>", "<td>caller_id</td><td>false</td><td>valid</td>", `href="/evidence?id=c2%40dialer"`,
		"Rejected: the carrier never saw the call."} {
		if !strings.Contains(page, want) {
			t.Errorf("call page lacks %s", want)
		}
	}
	_, _, page = get(t, srv.URL+"/call?id=c1@dialer")
	if !strings.Contains(page, "<dt>disposition</dt><dd>answered</dd>") {
		t.Error("call page lacks the outcome")
	}
	if !strings.Contains(page, "<td>listed</td><td>false</td><td></td>\n  <td class=\"num\">8, 9</td>") {
		t.Errorf("call page lacks the versions of the lists that did not hold the number:\n%s", page)
	}
	if status, _, _ := get(t, srv.URL+"/call?id=nobody"); status != 404 {
		t.Errorf("unknown call: %d", status)
	}
}

func TestEvidenceDownloadVerifies(t *testing.T) {
	srv := newTestWeb(t, "")
	status, h, body := get(t, srv.URL+"/evidence?id=c1@dialer")
	if status != 200 || h.Get("Content-Disposition") != `attachment; filename="evidence-c1@dialer.json"` {
		t.Fatalf("status %d, %q: %s", status, h.Get("Content-Disposition"), body)
	}
	var b struct {
		Records []any `json:"records"`
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil || len(b.Records) != 2 {
		t.Fatalf("bundle: %v, %d records (want the decision and its outcome)", err, len(b.Records))
	}
}

func TestCSVExportHasTheSearchsCalls(t *testing.T) {
	srv := newTestWeb(t, "")
	status, h, body := get(t, srv.URL+"/audit.csv?rule=federal-hours")
	if status != 200 || h.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("status %d, %s", status, h.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("%v: %q", err, body)
	}
	row := map[string]string{}
	for i, name := range rows[0] {
		row[name] = rows[1][i]
	}
	// hostile starts with <, which no spreadsheet runs: it stays as it is.
	if row["call_id"] != "c3@dialer" || row["status"] != "480" || row["called"] != "+12025550143" || row["campaign"] != hostile {
		t.Errorf("row %v", row)
	}
	_, _, body = get(t, srv.URL+"/audit.csv?decision=allow")
	if rows, _ := csv.NewReader(strings.NewReader(body)).ReadAll(); len(rows) != 3 || rows[1][16] != "answered" || rows[1][19] != "42" {
		t.Errorf("allowed calls with outcomes: %q", body)
	}
	if status, _, body := get(t, srv.URL+"/audit.csv?status=ok"); status != 400 || !strings.Contains(body, `status: "ok": not a SIP status code`) {
		t.Errorf("bad status filter: %d %q", status, body)
	}
}

func TestTokenGuardsEveryPath(t *testing.T) {
	srv := newTestWeb(t, "s3cret-token")
	for _, path := range []string{"/", "/metrics", "/audit.csv", "/assets/app.js", "/debug/pprof/"} {
		status, h, _ := get(t, srv.URL+path)
		if status != 401 || !strings.Contains(strings.Join(h.Values("WWW-Authenticate"), ","), "Basic") {
			t.Errorf("%s without the token: %d %v", path, status, h)
		}
		if status, _, _ := get(t, srv.URL+path, "Authorization", "Bearer s3cret-tokeN"); status != 401 {
			t.Errorf("%s with a wrong token: %d", path, status)
		}
		if status, _, _ := get(t, srv.URL+path, "Authorization", "Bearer s3cret-token"); status != 200 {
			t.Errorf("%s with the token: %d", path, status)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
	req.SetBasicAuth("auditor", "s3cret-token")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("basic auth with the token: %v %v", err, res)
	}
}

func TestAssetsAreEmbedded(t *testing.T) {
	srv := newTestWeb(t, "")
	status, _, body := get(t, srv.URL+"/assets/chart.js/chart.umd.min.js")
	if status != 200 || !strings.Contains(body[:200], "Chart.js v4.6.1") {
		t.Fatalf("chart.js: %d", status)
	}
	if _, err := os.Stat("web/assets/chart.js/LICENSE.md"); err != nil {
		t.Error(err)
	}
	if status, _, _ := get(t, srv.URL+"/assets/../templates/search.html"); status == 200 {
		t.Error("templates are served")
	}
}

// /healthz answers while the process serves; /readyz answers 503 with the
// reasons while something keeps calls from being decided, and 200 once
// nothing does, behind the token as every other endpoint.
func TestHealthAndReadiness(t *testing.T) {
	why := []string{"list ftc: never imported (rule national-registry-stale)"}
	web := &Web{Token: "s3cret", Unready: func() []string { return why }, Metrics: http.NotFoundHandler()}
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	auth := []string{"Authorization", "Bearer s3cret"}
	if status, _, body := get(t, srv.URL+"/healthz", auth...); status != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", status, body)
	}
	if status, _, body := get(t, srv.URL+"/readyz", auth...); status != 503 || !strings.Contains(body, why[0]) {
		t.Errorf("/readyz while the list is missing: %d %q, want 503 naming it", status, body)
	}
	why = nil
	if status, _, body := get(t, srv.URL+"/readyz", auth...); status != 200 || body != "ready\n" {
		t.Errorf("/readyz once ready: %d %q", status, body)
	}
	if status, _, _ := get(t, srv.URL+"/readyz"); status != 401 {
		t.Errorf("/readyz without the token: %d, want 401", status)
	}
}
