package policy

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

func TestAbandonmentRateOnBadger(t *testing.T) {
	store, err := registry.Open(registry.DefaultOptions(filepath.Join(t.TempDir(), "data")))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	c := call("+12125550143")
	c.Campaign = "spring"
	start := c.Time.Add(-10 * 24 * time.Hour)
	count := func(n int, abandoned bool, at time.Time) {
		t.Helper()
		for range n {
			if err := store.CountAnsweredCall(registry.AnsweredCall{Campaign: "spring", Answered: at, Abandoned: abandoned}); err != nil {
				t.Fatal(err)
			}
		}
	}
	match := "      abandonment_rate: {at_least: 2.5%, min_calls: 40}\n"
	if matched, trace := evalOne(t, "", match, c, store); matched || trace[0].Value != "no live-answered call yet" {
		t.Errorf("no calls: %v %+v", matched, trace)
	}
	count(1, true, start) // starts the period: 1 of 1 is 100 %, but under min_calls
	count(38, false, start.Add(time.Hour))
	if matched, trace := evalOne(t, "", match, c, store); matched || trace[0].Count != 39 {
		t.Errorf("39 calls, under min_calls: %v %+v", matched, trace)
	}
	count(1, false, start.Add(2*time.Hour))
	matched, trace := evalOne(t, "", match, c, store)
	if want := "2.50% (1 of 40) in 2026-02-20T15:00:00Z/2026-03-22T15:00:00Z"; !matched || trace[0].Value != want || trace[0].Count != 40 {
		t.Errorf("1 of 40: %v %+v; want it to hold with %q", matched, trace, want)
	}
	count(1, false, start.Add(3*time.Hour))
	if matched, trace := evalOne(t, "", match, c, store); matched {
		t.Errorf("1 of 41 (2.44%%) holds: %+v", trace)
	}
	// Another campaign's rate is not this one's.
	other := c
	other.Campaign = "fall"
	if matched, _ := evalOne(t, "", "      abandonment_rate: {at_least: 0%, min_calls: 1}\n", other, store); matched {
		t.Error("a campaign without calls holds")
	}
	// The next period starts from nothing: its rate holds again only after min_calls.
	later := c
	later.Time = start.Add(registry.AbandonmentPeriodLength + time.Hour)
	count(2, true, later.Time.Add(-time.Minute))
	if matched, trace := evalOne(t, "", match, later, store); matched || trace[0].Count != 2 ||
		trace[0].Value != "100.00% (2 of 2) in 2026-03-22T15:00:00Z/2026-04-21T15:00:00Z" {
		t.Errorf("the second period: %v %+v", matched, trace)
	}
}

func TestAbandonmentRateDefaultsToAHundredCalls(t *testing.T) {
	reg := newMemRegistry(nil)
	c := call("+12125550143")
	c.Campaign = "spring"
	period := func(live, abandoned int64) {
		reg.data.abandonment["spring"] = registry.AbandonmentPeriod{Campaign: "spring", Start: c.Time.Add(-time.Hour),
			End: c.Time.Add(registry.AbandonmentPeriodLength - time.Hour), LiveAnswered: live, Abandoned: abandoned}
	}
	match := "      abandonment_rate: {at_least: 3%}\n"
	period(99, 99)
	if matched, _ := evalOne(t, "", match, c, reg); matched {
		t.Error("99 calls, all abandoned, hold under the default min_calls")
	}
	period(100, 3)
	if matched, _ := evalOne(t, "", match, c, reg); !matched {
		t.Error("3 of 100 does not reach 3%")
	}
}

func TestAbandonmentRateErrors(t *testing.T) {
	for _, tc := range []struct{ match, want string }{
		{"      abandonment_rate: 2.5%\n", "p.yaml:4:25: abandonment_rate: want {at_least: PERCENT, min_calls: N}, e.g. {at_least: 2.5%}"},
		{"      abandonment_rate: {min_calls: 10}\n", "p.yaml:4:25: abandonment_rate: want {at_least: PERCENT, min_calls: N}, e.g. {at_least: 2.5%}"},
		{"      abandonment_rate: {at_least: 2.5%, min_calls: 0}\n", "p.yaml:4:53: abandonment_rate: min_calls is a number of live-answered calls, 1 or more"},
		{"      abandonment_rate: {at_least: 250%}\n", `p.yaml:4:36: "250%" is not a percentage from 0% to 100%, such as 10%`},
	} {
		if got := parseErr("", tc.match); got != tc.want {
			t.Errorf("%s: got %s; want %s", tc.match, got, tc.want)
		}
	}
}
