package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// Tests of the consent and exempt conditions over the in-memory
// registry, which answers with the registry's own consent and exemption rules.

func TestConsentCondition(t *testing.T) {
	c := call("+12125550143")
	c.Seller, c.Campaign = "acme", "spring"
	day := func(n int) time.Time { return c.Time.AddDate(0, 0, n) }
	cases := []struct {
		records []registry.ConsentRecord
		rnd     []registry.RNDRecord
		matched bool // consent: [none, express]: no written consent
		value   string
	}{
		{nil, nil, true, "none: absent"},
		{[]registry.ConsentRecord{{ID: "4.1", Seller: "acme", Kind: "written", GrantedAt: day(-30)}}, nil, false, "written record 4.1"},
		{[]registry.ConsentRecord{{ID: "4.1", Seller: "acme", Kind: "express", GrantedAt: day(-30)}}, nil, true, "express record 4.1"},
		{[]registry.ConsentRecord{{ID: "4.1", Seller: "globex", Kind: "written", GrantedAt: day(-30)}}, nil, true, "none: out of scope record 4.1"},
		{[]registry.ConsentRecord{{ID: "4.1", Campaign: "fall", Kind: "written", GrantedAt: day(-30)}}, nil, true, "none: out of scope record 4.1"},
		{[]registry.ConsentRecord{{ID: "4.1", Kind: "written", GrantedAt: day(-30), ExpiresAt: day(-1)}}, nil, true, "none: expired record 4.1"},
		{[]registry.ConsentRecord{{ID: "4.1", Kind: "written", GrantedAt: day(-30), RevokedAt: day(-1)}}, nil, true, "none: revoked record 4.1"},
		{[]registry.ConsentRecord{{ID: "4.1", Kind: "written", GrantedAt: day(-30)}}, []registry.RNDRecord{{ID: "5.1", Answer: "yes", AskedOn: day(-30)}}, true, "none: reassigned record 4.1"},
		{[]registry.ConsentRecord{{ID: "4.1", Kind: "written", GrantedAt: day(-30)}}, []registry.RNDRecord{{ID: "5.1", Answer: "no", AskedOn: day(-30)}}, false, "written record 4.1"},
	}
	for _, tc := range cases {
		reg := newMemRegistry(nil)
		reg.data.consents[c.Called], reg.data.rnd[c.Called] = tc.records, tc.rnd
		matched, trace := evalOne(t, "", "      consent: [none, express]\n", c, reg)
		if matched != tc.matched || withRecord(trace[0]) != tc.value || trace[0].Version != 1 {
			t.Errorf("%+v %+v: %v %+v; want %v %q", tc.records, tc.rnd, matched, trace, tc.matched, tc.value)
		}
	}
	if got, want := parseErr("", "      consent: [oral]\n"), `p.yaml:4:17: consent "oral" is not one of none, express, written`; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}

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

// withRecord is a trace step's value and the record it names.
func withRecord(step ConditionTrace) string {
	if step.Record == "" {
		return step.Value
	}
	return step.Value + " record " + step.Record
}
