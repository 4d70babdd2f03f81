package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// probe is an OPTIONS to the gatekeeper, as a dispatcher sends it.
func probe(n int) string {
	return fmt.Sprintf("OPTIONS sip:127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKprobe%d\nMax-Forwards: 70\nFrom: <sip:probe@127.0.0.2>;tag=p\nTo: <sip:127.0.0.1>\nCall-ID: probe%d\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n", n, n)
}

// Under the shipped policy the gatekeeper is not ready until the national
// list is imported: /readyz, OPTIONS and gatekeeper_ready say so, and say
// otherwise once it is, while /healthz answers throughout.
func TestReadinessFollowsTheNationalList(t *testing.T) {
	g := newGatekeeper(t)
	g.useShippedPolicy()
	g.clock = fridayNoon
	g.start()
	if status, body := g.adminStatus("/healthz"); status != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", status, body)
	}
	if status, body := g.adminStatus("/readyz"); status != 503 || !strings.Contains(body, "list ftc: never imported (rule national-registry-stale)") {
		t.Errorf("/readyz without the national list: %d %q", status, body)
	}
	if res := g.sendRaw(dialerIP, probe(1)); !strings.HasPrefix(res, "SIP/2.0 503 ") || !strings.Contains(res, "Retry-After: 5") {
		t.Errorf("OPTIONS without the national list got %q, want 503 with Retry-After", res)
	}
	if v := metricValue(t, g.adminGet("/metrics"), "gatekeeper_ready"); v != 0 {
		t.Errorf("gatekeeper_ready = %v without the national list", v)
	}
	g.importListWith("ftc", []string{"--source-date", freshFTC}, listedNumber)
	if status, body := g.adminStatus("/readyz"); status != 200 || body != "ready\n" {
		t.Errorf("/readyz with a fresh national list: %d %q", status, body)
	}
	if res := g.sendRaw(dialerIP, probe(2)); !strings.HasPrefix(res, "SIP/2.0 200 ") {
		t.Errorf("OPTIONS with a fresh national list got %q, want 200", firstLine(res))
	}
	if v := metricValue(t, g.adminGet("/metrics"), "gatekeeper_ready"); v != 1 {
		t.Errorf("gatekeeper_ready = %v with a fresh national list", v)
	}
	g.stop()
}

// scrape parses the gatekeeper's /metrics.
func (g *gatekeeper) scrape() map[string]*dto.MetricFamily {
	g.t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(g.adminGet("/metrics")))
	if err != nil {
		g.t.Fatal(err)
	}
	return families
}

// Every metric of the gatekeeper's own is listed in docs/operations.md with
// its type and labels, and every metric the Grafana dashboard queries is
// served: a scrape after calls that touch each of them, of a gatekeeper in
// a cluster (of one, its NATS server embedded) so that the cluster's are
// served too.
func TestMetricsAreDocumentedAndCharted(t *testing.T) {
	g := newGatekeeper(t)
	g.sections = fmt.Sprintf("cluster:\n  node: gk-a\n  embedded:\n    listen: %s:%d\n", carrierIP, freePort(t, carrierIP))
	g.writeConfig()
	writeFile(t, filepath.Join(g.dir, "policy.yaml"), `mode: enforce
lists:
  internal: the company's own Do-Not-Call list
  watch: numbers a rule under trial would refuse
rules:
  - name: watch-trial
    match:
      listed: [watch]
    action: reject
    monitor: true
  - name: internal-dnc
    match:
      listed: [internal]
    action: reject
`)
	g.importList("internal", listedNumber)
	g.importList("watch", cleanNumber)
	g.start()
	carrier := g.carrier("uas.xml", 1)
	g.dial(dialerIP, "uac_reject.xml", listedNumber, "-set", "expect", "603").mustPass()
	g.dial(dialerIP, "uac.xml", cleanNumber).mustPass()
	carrier.mustPass()
	scraped := g.scrape()

	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile("(?m)^\\| `(gatekeeper_\\w+)` \\| (\\w+) \\|([^|]*)\\|").FindAllStringSubmatch(string(doc), -1)
	documented := map[string]bool{}
	for _, row := range rows {
		name, kind, labels := row[1], row[2], strings.Fields(strings.NewReplacer("`", "", ",", "").Replace(row[3]))
		documented[name] = true
		f, ok := scraped[name]
		if !ok {
			t.Errorf("docs/operations.md lists %s, which a scrape does not hold", name)
			continue
		}
		if got := strings.ToLower(f.GetType().String()); got != kind {
			t.Errorf("%s is a %s, docs/operations.md says %s", name, got, kind)
		}
		var served []string
		for _, lp := range f.GetMetric()[0].GetLabel() {
			served = append(served, lp.GetName())
		}
		sort.Strings(served)
		sort.Strings(labels)
		if !slices.Equal(served, labels) {
			t.Errorf("%s has labels %v, docs/operations.md says %v", name, served, labels)
		}
	}
	for name := range scraped {
		if strings.HasPrefix(name, "gatekeeper_") && !documented[name] {
			t.Errorf("%s is served but not listed in docs/operations.md", name)
		}
	}

	dashboard, err := os.ReadFile(filepath.Join(repoRoot, "configs", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	queried := regexp.MustCompile(`\b(?:gatekeeper|go|process)_[a-z_]+`).FindAllString(string(dashboard), -1)
	if len(queried) < 10 {
		t.Fatalf("the dashboard queries only %v", queried)
	}
	for _, name := range queried {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if f, ok := scraped[strings.TrimSuffix(name, suffix)]; ok && f.GetType() == dto.MetricType_HISTOGRAM {
				base = strings.TrimSuffix(name, suffix)
			}
		}
		if _, ok := scraped[base]; !ok {
			t.Errorf("the dashboard queries %s, which a scrape does not hold", name)
		}
	}
	g.stop()
}
