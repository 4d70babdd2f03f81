package policy

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// TestConsentCondition runs the consent condition over the in-memory registry.
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

// TestConsentAppliesOrSaysWhyNot decides consents on records imported into,
// and changed live in, a real registry.
func TestConsentAppliesOrSaysWhyNot(t *testing.T) {
	s, dir := openStore(t)
	consents := writeData(t, dir, "consent.csv", "number,seller,campaign,kind,granted_at,expires_at,revoked_at,evidence\n"+
		"2025550001,acme,,written,2026-01-10,,,form 17\n"+ // good for acme
		"2025550001,,,express,2025-06-01,,,\n"+ // any seller, weaker
		"2025550002,acme,,written,2026-01-10,,2026-02-01T10:00:00Z,form 18\n"+ // revoked in the file
		"2025550003,acme,,written,2025-01-10,2026-01-10,,\n"+ // expired
		"2025550004,globex,spring,express,2026-01-10,,,\n"+ // other seller
		"2025550005,acme,,written,2025-06-01,,,\n"+ // voided by an RND yes
		"2025550006,acme,,express,2025-06-01,,,\n") // RND said yes before the grant: still good
	info := importData(t, s, registry.KindConsent, consents)
	rnd := importData(t, s, registry.KindRND, writeData(t, dir, "rnd.csv",
		"number,asked_on,answer,disconnected_on\n2025550005,2025-06-01,yes,2025-09-15\n2025550006,2025-01-01,yes,2025-03-01\n"))
	at := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	cases := []struct {
		number, seller, campaign string
		kind, why, id            string
	}{
		{"+12025550001", "acme", "", registry.ConsentWritten, "", "1"},
		{"+12025550001", "globex", "", registry.ConsentExpress, "", "2"},
		{"+12025550002", "acme", "", ConsentNone, WhyRevoked, "3"},
		{"+12025550003", "acme", "", ConsentNone, WhyExpired, "4"},
		{"+12025550004", "acme", "spring", ConsentNone, WhyOutOfScope, "5"},
		{"+12025550004", "globex", "fall", ConsentNone, WhyOutOfScope, "5"},
		{"+12025550004", "globex", "spring", registry.ConsentExpress, "", "5"},
		{"+12025550005", "acme", "", ConsentNone, WhyReassigned, "6"},
		{"+12025550006", "acme", "", registry.ConsentExpress, "", "7"},
		{"+12025550099", "acme", "", ConsentNone, WhyAbsent, ""},
	}
	for _, tc := range cases {
		a, err := DecideConsent(s, tc.number, tc.seller, tc.campaign, at)
		if err != nil {
			t.Fatal(err)
		}
		id := ""
		if a.Record != nil {
			id = strings.TrimPrefix(a.Record.ID, fmt.Sprintf("%d.", info.Version))
		}
		if a.Kind != tc.kind || a.Why != tc.why || id != tc.id || a.Version != info.Version {
			t.Errorf("%s for %s/%s: %+v (record %+v); want %s %q record %s", tc.number, tc.seller, tc.campaign, a, a.Record, tc.kind, tc.why, tc.id)
		}
	}
	if a, _ := DecideConsent(s, "+12025550005", "acme", "", at); a.RNDVersion != rnd.Version || !strings.Contains(a.Detail, "disconnected since 2025-09-15") {
		t.Errorf("reassigned: %+v", a)
	}
	if a, _ := DecideConsent(s, "+12025550001", "acme", "", at); a.Record.Source != consents+":2" || a.Record.Evidence != "form 17" {
		t.Errorf("evidence: %+v", a.Record)
	}

	// Revoked live: the very next question sees it; a later grant is a new consent.
	revocation, err := s.ChangeConsent(registry.ConsentRequest{Revoke: true, Number: "+12025550001", Seller: "acme", By: "ops", Via: "test", At: at.Add(-time.Hour)})
	if err != nil || revocation.Action != "revoke" {
		t.Fatal(revocation, err)
	}
	if a, _ := DecideConsent(s, "+12025550001", "acme", "", at); a.Kind != ConsentNone || a.Why != WhyRevoked || !strings.Contains(a.Detail, "by ops via test") {
		t.Errorf("after a live revocation for acme: %+v", a)
	}
	if a, _ := DecideConsent(s, "+12025550001", "globex", "", at); a.Kind != registry.ConsentExpress {
		t.Errorf("a revocation for acme withdrew globex's consent: %+v", a)
	}
	if a, _ := DecideConsent(s, "+12025550001", "acme", "", at.Add(-2*time.Hour)); a.Kind != registry.ConsentWritten {
		t.Errorf("a call before the revocation: %+v", a)
	}
	added, err := s.ChangeConsent(registry.ConsentRequest{Number: "+12025550001", Seller: "acme", Kind: "express", By: "ops", Via: "test", At: at.Add(-time.Minute), Evidence: "call 9"})
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := DecideConsent(s, "+12025550001", "acme", "", at); a.Kind != registry.ConsentExpress || a.Record.ID != added.Record.ID {
		t.Errorf("after a new live grant: %+v", a)
	}

	// Live changes survive a restart and a new import.
	s.Close()
	s, err = registry.Open(registry.DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	importData(t, s, registry.KindConsent, consents)
	if a, _ := DecideConsent(s, "+12025550001", "acme", "", at); a.Kind != registry.ConsentExpress || a.Record.ID != added.Record.ID {
		t.Errorf("after a restart and a new import: %+v", a)
	}
}

// openStore opens a registry in a temporary directory, closed when the test ends.
func openStore(t *testing.T) (*registry.Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := registry.Open(registry.DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// writeData writes a data file into dir and returns its path.
func writeData(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// importData imports the file as a new version of the data set kind.
func importData(t *testing.T, s *registry.Store, kind, file string) registry.ListInfo {
	t.Helper()
	info, err := s.ImportDataSet(context.Background(), registry.DataSetRequest{Kind: kind, Files: []string{file}})
	if err != nil {
		t.Fatalf("import %s: %v", kind, err)
	}
	return info
}

// withRecord is a trace step's value and the record it names.
func withRecord(step ConditionTrace) string {
	if step.Record == "" {
		return step.Value
	}
	return step.Value + " record " + step.Record
}

// A grant is spent when it expired or a revocation withdraws it for every
// call it covers; a spent grant decides no call (pickConsent agrees).
func TestConsentSpent(t *testing.T) {
	granted := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := granted.Add(48 * time.Hour)
	revoke := func(seller, campaign string, at time.Time) registry.ConsentChange {
		return registry.ConsentChange{Action: "revoke", Seller: seller, Campaign: campaign, At: at}
	}
	cases := []struct {
		name        string
		grant       registry.ConsentRecord
		revocations []registry.ConsentChange
		spent       bool
	}{
		{"in force", registry.ConsentRecord{Seller: "acme", GrantedAt: granted}, nil, false},
		{"expired", registry.ConsentRecord{Seller: "acme", GrantedAt: granted, ExpiresAt: now}, nil, true},
		{"not yet expired", registry.ConsentRecord{Seller: "acme", GrantedAt: granted, ExpiresAt: now.Add(time.Second)}, nil, false},
		{"revoked for any seller", registry.ConsentRecord{Seller: "acme", GrantedAt: granted}, []registry.ConsentChange{revoke("", "", granted.Add(time.Hour))}, true},
		{"revoked for its seller", registry.ConsentRecord{Seller: "acme", Campaign: "spring", GrantedAt: granted}, []registry.ConsentChange{revoke("acme", "", granted)}, true},
		{"revoked for another seller", registry.ConsentRecord{Seller: "acme", GrantedAt: granted}, []registry.ConsentChange{revoke("globex", "", granted.Add(time.Hour))}, false},
		{"revoked for one seller of a grant to any", registry.ConsentRecord{GrantedAt: granted}, []registry.ConsentChange{revoke("acme", "", granted.Add(time.Hour))}, false},
		{"revoked for one campaign of a grant to all", registry.ConsentRecord{Seller: "acme", GrantedAt: granted}, []registry.ConsentChange{revoke("acme", "spring", granted.Add(time.Hour))}, false},
		{"revoked before the grant", registry.ConsentRecord{Seller: "acme", GrantedAt: granted}, []registry.ConsentChange{revoke("", "", granted.Add(-time.Hour))}, false},
		{"revocation not yet in force", registry.ConsentRecord{Seller: "acme", GrantedAt: granted}, []registry.ConsentChange{revoke("", "", now.Add(time.Hour))}, false},
	}
	for _, c := range cases {
		c.grant.Kind = registry.ConsentWritten
		if got := ConsentSpent(c.grant, c.revocations, now); got != c.spent {
			t.Errorf("%s: spent %v, want %v", c.name, got, c.spent)
		}
		if c.spent {
			for _, campaign := range []string{"", "spring", "fall"} {
				q := consentQuery{seller: cmp.Or(c.grant.Seller, "acme"), campaign: cmp.Or(c.grant.Campaign, campaign), at: now}
				if a := pickConsent(q, []registry.ConsentRecord{c.grant}, c.revocations, nil); a.Kind != ConsentNone {
					t.Errorf("%s: spent, yet it gives %s consent to a call for %+v", c.name, a.Kind, q)
				}
			}
		}
	}
}
