package policy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// TestExemptCondition runs the exempt condition over the in-memory registry.
func TestExemptCondition(t *testing.T) {
	c := call("+12125550143") // 2026-03-02
	c.Seller = "acme"
	const lists = "lists:\n  internal: opt-outs\n  ftc: national\n"
	cases := []struct {
		match   string
		records []registry.ExemptionRecord
		optOut  bool
		matched bool
		value   string
	}{
		{"      exempt: false\n", nil, false, true, "none: absent"},
		{"      exempt: false\n", []registry.ExemptionRecord{{ID: "3.1", Seller: "acme", Kind: "purchase", Date: at("2024-09-03T00:00:00Z")}}, false, false, "purchase record 3.1"},
		{"      exempt: false\n", []registry.ExemptionRecord{{ID: "3.1", Seller: "acme", Kind: "purchase", Date: at("2024-09-02T00:00:00Z")}}, false, true, "none: ended record 3.1"},
		{"      exempt: false\n", []registry.ExemptionRecord{{ID: "3.1", Seller: "acme", Kind: "inquiry", Date: at("2025-12-03T00:00:00Z")}}, false, false, "inquiry record 3.1"},
		{"      exempt: false\n", []registry.ExemptionRecord{{ID: "3.1", Seller: "globex", Kind: "permission", Date: at("2025-01-01T00:00:00Z")}}, false, true, "none: out of scope"},
		{"      exempt: true\n", []registry.ExemptionRecord{{ID: "3.1", Seller: "acme", Kind: "permission", Date: at("2020-01-01T00:00:00Z")}}, false, true, "permission record 3.1"},
		// The company's own list beats any exemption.
		{"      exempt: true\n", []registry.ExemptionRecord{{ID: "3.1", Seller: "acme", Kind: "permission", Date: at("2020-01-01T00:00:00Z")}}, true, false, "none: overridden by the internal list"},
		{"      exempt: {in_force: true, purchase: 12mo}\n", []registry.ExemptionRecord{{ID: "3.1", Kind: "purchase", Date: at("2025-02-01T00:00:00Z")}}, false, false, "none: ended record 3.1"},
		{"      exempt: {in_force: true, inquiry: 120d}\n", []registry.ExemptionRecord{{ID: "3.1", Kind: "inquiry", Date: at("2025-11-15T00:00:00Z")}}, false, true, "inquiry record 3.1"},
	}
	for _, tc := range cases {
		optOuts := map[string][]string{"internal": nil, "ftc": nil}
		if tc.optOut {
			optOuts["internal"] = []string{c.Called}
		}
		reg := newMemRegistry(optOuts)
		reg.data.exemptions[c.Called] = tc.records
		matched, trace := evalOne(t, lists, tc.match, c, reg)
		if matched != tc.matched || withRecord(trace[0]) != tc.value {
			t.Errorf("%s %+v opt-out %v: %v %+v; want %v %q", tc.match, tc.records, tc.optOut, matched, trace, tc.matched, tc.value)
		}
	}
	for match, want := range map[string]string{
		"      exempt: maybe\n":                                   "p.yaml:7:15: exempt: want false, or",
		"      exempt: {purchase: 18mo}\n":                        "p.yaml:7:15: exempt: want in_force",
		"      exempt: {in_force: false, inquiry: 3w}\n":          `p.yaml:7:42: exempt: inquiry: "3w" is not a period such as 18mo, 1y or 90d`,
		"      exempt: {in_force: false, overridden_by: [vip]}\n": `p.yaml:7:49: list "vip" is not declared under lists:`,
	} {
		if got := parseErr(lists, match); !strings.HasPrefix(got, want) {
			t.Errorf("%q: %s; want %s", match, got, want)
		}
	}
}

// TestExemptionPeriods decides exemptions on records imported into a real registry.
func TestExemptionPeriods(t *testing.T) {
	s, dir := openStore(t)
	importData(t, s, registry.KindEBR, writeData(t, dir, "ebr.csv", "number,seller,kind,date\n"+
		"2025550001,acme,purchase,2024-10-01\n"+
		"2025550002,acme,inquiry,2026-01-15\n"+
		"2025550003,acme,permission,2020-01-01\n"+
		"2025550004,globex,purchase,2026-01-01\n"+
		"2025550005,,inquiry,2026-02-01\n"))
	cases := []struct {
		number  string
		at      string
		inForce bool
		why     string
	}{
		{"+12025550001", "2026-03-31T12:00:00Z", true, ""}, // 18 months after 2024-10-01 is 2026-04-01
		{"+12025550001", "2026-04-01T12:00:00Z", false, "ended"},
		{"+12025550002", "2026-04-14T12:00:00Z", true, ""}, // 3 months after 2026-01-15
		{"+12025550002", "2026-04-15T00:00:00Z", false, "ended"},
		{"+12025550003", "2031-01-01T00:00:00Z", true, ""},
		{"+12025550004", "2026-03-01T00:00:00Z", false, WhyOutOfScope},
		{"+12025550005", "2026-03-01T00:00:00Z", true, ""},
		{"+12025550009", "2026-03-01T00:00:00Z", false, WhyAbsent},
	}
	for _, tc := range cases {
		at, _ := time.Parse(time.RFC3339, tc.at)
		a, err := DecideExemption(s, tc.number, "acme", at, DefaultExemptionPeriods)
		if err != nil || a.InForce != tc.inForce || a.Why != tc.why || a.Version == 0 {
			t.Errorf("%s at %s: %+v, %v; want in force %v, why %q", tc.number, tc.at, a, err, tc.inForce, tc.why)
		}
	}
	// Shorter periods are the policy's to set.
	at, _ := time.Parse(time.RFC3339, "2026-03-31T12:00:00Z")
	if a, _ := DecideExemption(s, "+12025550001", "acme", at, ExemptionPeriods{Purchase: Period{Months: 12}}); a.InForce {
		t.Errorf("a 12-month period: %+v", a)
	}
}

// An import that switches the overriding list's version after the lookup
// answered does not change the version the trace cites.
func TestExemptCitesTheListVersionThatAnswered(t *testing.T) {
	e := &exempt{periods: DefaultExemptionPeriods, overriddenBy: []string{"internal"}}
	reg := newSwitchingStore(t, "internal", "2025550143\n", "2025550144\n")
	c := call("+12025550143")
	c.Seller = "acme"
	got, err := e.eval(context.Background(), &facts{Call: c}, reg)
	if len(reg.versions) != 2 {
		t.Fatalf("imports %v; want one before and one after the lookup", reg.versions)
	}
	if err != nil || !got.Holds || got.Value != "none: overridden by the internal list" || !slices.Equal(got.DataVersions(), reg.versions[:1]) {
		t.Errorf("%+v %v; want overridden citing version %d, which answered, not %d", got, err, reg.versions[0], reg.versions[1])
	}
}
