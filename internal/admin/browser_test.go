package admin

import (
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// screenshotEnv names the variable that makes TestAuditorPageInBrowser
// rewrite docs/auditor-page.png, which the README shows: CI leaves it unset
// so that a run does not change the tree.
const screenshotEnv = "GATEKEEPER_SCREENSHOT"

// chromium finds Debian's chromium (what .ci/run installs), or skips.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("the browser test needs Chromium, which is not installed: apt-get install -y chromium (.ci/run installs it)")
	return ""
}

// TestAuditorPageInBrowser drives headless Chromium through the DevTools
// protocol over the page served on loopback from the seeded log: a search
// through the form, the charts' data as Chart.js holds it, a call's trace,
// and the CSV export as the browser downloads it.
func TestAuditorPageInBrowser(t *testing.T) {
	exe := chromium(t)
	srv := newTestWeb(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 1000))
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	defer cancelBrowser()

	// The search form: rule national-dnc finds c2 and c4, nothing else.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.SetValue(chromedp.CSS(`input[name="rule"]`), "national-dnc"),
		chromedp.Submit(chromedp.CSS(`input[name="rule"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#calls`)),
	); err != nil {
		t.Fatal(err)
	}
	ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#calls tbody tr td:nth-child(3)")].map(td => td.textContent)`))
	if err != nil || !reflect.DeepEqual(ids, []string{"c2@dialer", "c4@dialer"}) {
		t.Errorf("search by rule: %v %q", err, ids)
	}

	// The charts, as Chart.js drew them for the whole log.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("rules-per-day"))); err != nil {
		t.Fatal(err)
	}
	type dataset struct {
		Label string    `json:"label"`
		Data  []float64 `json:"data"`
	}
	type chart struct {
		Labels   []string  `json:"labels"`
		Datasets []dataset `json:"datasets"`
	}
	read := func(id string) chart {
		c, err := chromedp.Run(ctx, chromedp.Evaluate[chart](
			`(c => ({labels: c.data.labels, datasets: c.data.datasets.map(d => ({label: d.label, data: d.data}))}))(Chart.getChart("`+id+`"))`))
		if err != nil {
			t.Fatalf("chart %s: %v", id, err)
		}
		return c
	}
	wantDays := chart{Labels: []string{"2026-11-20", "2026-11-21"}}
	perDay := map[string][]float64{}
	for _, c := range seeded {
		if perDay[c.rule] == nil {
			perDay[c.rule] = make([]float64, 2)
		}
		day := 0
		if strings.HasPrefix(c.at, "2026-11-21") {
			day = 1
		}
		perDay[c.rule][day]++
	}
	for _, rule := range []string{"default", "federal-hours", "national-dnc"} {
		wantDays.Datasets = append(wantDays.Datasets, dataset{Label: rule, Data: perDay[rule]})
	}
	if got := read("rules-per-day"); !reflect.DeepEqual(got, wantDays) {
		t.Errorf("decisions per rule per day:\ngot  %+v\nwant %+v", got, wantDays)
	}
	rate := read("reject-rate")
	wantRate := chart{Labels: []string{hostile, "autumn", "spring"}, Datasets: []dataset{{Label: "rejected, % of calls", Data: []float64{100, 0, 66.7}}}}
	if !reflect.DeepEqual(rate, wantRate) {
		t.Errorf("reject rate per campaign:\ngot  %+v\nwant %+v", rate, wantRate)
	}
	if inline, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelectorAll("script:not([src]):not([type])").length > 0`)); inline {
		t.Error("the page holds an inline script")
	}
	if os.Getenv(screenshotEnv) != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "auditor-page.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A call's trace, reached from its row.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#calls a[href="/call?id=c2%40dialer"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.trace`)),
	); err != nil {
		t.Fatal(err)
	}
	trace, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`table.trace tbody`)))
	if err != nil || !strings.Contains(trace, "national-dnc") || !strings.Contains(trace, "listed") || !strings.Contains(trace, "ftc") {
		t.Errorf("trace: %v %q", err, trace)
	}

	// The CSV export of a search, as the browser saves it.
	downloads := t.TempDir()
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/?decision=allow"),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			yes := true
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &yes})
			return err
		}),
		chromedp.Click(chromedp.ID("csv")),
	); err != nil {
		t.Fatal(err)
	}
	var saved string
	for ev, err := range progress {
		if err != nil {
			t.Fatal(err)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			saved = filepath.Join(downloads, ev.GUID)
			break
		}
	}
	data, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][2] != "call_id" || rows[1][2] != "c1@dialer" || rows[2][2] != "c5@dialer" || rows[2][16] != "answered" {
		t.Errorf("CSV: %v %q", err, data)
	}
}
