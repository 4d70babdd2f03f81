package policy

import (
	"testing"
	"time"
)

func TestStale(t *testing.T) {
	reg := newMemRegistry(nil)
	pre := "lists: {ftc: national}\n"
	match := "      stale: {list: ftc, older_than: 31d}\n"
	c := call("+12125550143")
	if matched, trace := evalOne(t, pre, match, c, reg); !matched || trace[0].Value != "ftc never imported" {
		t.Errorf("missing list: %v %+v", matched, trace)
	}
	reg.setList("ftc", c.Time.Add(-31*24*time.Hour))
	if matched, trace := evalOne(t, pre, match, c, reg); matched || trace[0].Count != 31 || trace[0].Version == 0 {
		t.Errorf("31 days: %v %+v", matched, trace)
	}
	reg.setList("ftc", c.Time.Add(-31*24*time.Hour-time.Minute))
	if matched, _ := evalOne(t, pre, match, c, reg); !matched {
		t.Error("a list older than 31 days is not stale")
	}
	if got, want := parseErr(pre, "      stale: {list: ftc}\n"), "p.yaml:5:14: stale: want both list and older_than, e.g. {list: ftc, older_than: 31d}"; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}

func TestFreshnessNamesEveryStaleCondition(t *testing.T) {
	e, err := Parse("p.yaml", []byte(`lists:
  ftc: national
rules:
  - name: national-registry-stale
    match:
      stale: {list: ftc, older_than: 31d}
    action: reject
    status: 503
  - name: other
    match:
      state: [FL]
    action: reject
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := e.Freshness()
	if len(got) != 1 || got[0] != (Freshness{Rule: "national-registry-stale", Action: Reject, List: "ftc", OlderThan: 31 * 24 * time.Hour}) {
		t.Fatalf("Freshness() = %+v", got)
	}
}
