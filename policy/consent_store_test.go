package policy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// importLandlineBlocks marks every NPA-555 exchange a landline exchange, so
// that the shipped policy's automated calls to the tests' 555 numbers need
// no consent; 305-556 is a wireless exchange.
func importLandlineBlocks(t testing.TB, store *registry.Store, dir string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("npa,nxx,x,type,state\n")
	for npa := 201; npa <= 999; npa++ {
		if number.CheckExchange(uint32(npa*1000+555)) == nil { // no block in an N11 or reserved area code
			fmt.Fprintf(&b, "%d,555,,landline,\n", npa)
		}
	}
	b.WriteString("305,556,,wireless,FL\n")
	importFile(t, store, dir, registry.KindBlocks, "blocks.csv", b.String())
}

func importFile(t testing.TB, store *registry.Store, dir, kind, name, text string) registry.ListInfo {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := store.ImportDataSet(context.Background(), registry.DataSetRequest{Kind: kind, Files: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// mobileWithConsent is a Florida mobile on the national list, with an
// established business relationship and written consent for acme: the call
// to it asks every data set the shipped policy reads.
const mobileWithConsent = "+13055560143"

func shippedPolicyWithConsentData(t testing.TB) (*policy.Engine, *registry.Store, string) {
	engine, store := shippedPolicyOnBadger(t)
	dir := t.TempDir()
	ftc := filepath.Join(dir, "ftc.txt")
	if err := os.WriteFile(ftc, []byte("3055550100\n3055560143\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(context.Background(), registry.ImportRequest{List: "ftc", Files: []string{ftc}}); err != nil {
		t.Fatal(err)
	}
	importFile(t, store, dir, registry.KindConsent, "consent.csv", "number,seller,kind,granted_at\n3055560143,acme,written,2026-01-05\n3055560144,acme,express,2026-01-05\n")
	importFile(t, store, dir, registry.KindEBR, "ebr.csv", "number,seller,kind,date\n3055560143,acme,purchase,2026-02-01\n")
	return engine, store, dir
}

func consentCall(called string) policy.Call {
	c := workdayNoon(called)
	c.Seller = "acme"
	return c
}

func TestShippedPolicyConsentOnBadger(t *testing.T) {
	engine, store, _ := shippedPolicyWithConsentData(t)
	ctx := context.Background()
	d := engine.Decide(ctx, consentCall(mobileWithConsent))
	if d.Rule != "default" || len(d.Trace) != 12 {
		t.Fatalf("mobile with consent and EBR: %+v", d)
	}
	dnc, mobile := d.Trace[3].Conditions, d.Trace[4].Conditions
	// exempt cites the overriding internal list (which does not hold the number), then the EBR data.
	internal, _, _ := store.ListDate("internal")
	_, ebr, _ := store.Exemptions(mobileWithConsent)
	if dnc[1].Value != "purchase" || dnc[1].Record == "" || !slices.Equal(dnc[1].DataVersions(), []uint64{internal, ebr}) || internal == 0 ||
		mobile[1].Value != "mobile from block" || mobile[2].Value != "written" || mobile[2].Record == "" {
		t.Errorf("trace: %+v %+v", dnc, mobile)
	}
	if d := engine.Decide(ctx, consentCall("+13055560144")); d.Rule != "mobile-automated-consent" {
		t.Errorf("mobile with express consent only: %+v", d)
	}

	// A revocation through the store flips the very next decision.
	c := consentCall(mobileWithConsent)
	revocation := registry.ConsentRequest{Revoke: true, Number: mobileWithConsent, At: c.Time.Add(-time.Hour), By: "test", Via: "test"}
	if _, err := store.ChangeConsent(revocation); err != nil {
		t.Fatal(err)
	}
	if d := engine.Decide(ctx, c); d.Rule != "mobile-automated-consent" || !strings.HasPrefix(d.Trace[4].Conditions[2].Value, "none: revoked") {
		t.Errorf("after the revocation: %+v", d)
	}
	c.Time = c.Time.Add(-2 * time.Hour)
	if d := engine.Decide(ctx, c); d.Rule != "default" {
		t.Errorf("a call before the revocation: %+v", d)
	}
}

// BenchmarkDecideShippedPolicyAllLookups decides the call that asks every
// data set: lists, line type, exemption and consent.
func BenchmarkDecideShippedPolicyAllLookups(b *testing.B) {
	engine, _, _ := shippedPolicyWithConsentData(b)
	ctx, c := context.Background(), consentCall(mobileWithConsent)
	for range 1000 { // warm up
		engine.Decide(ctx, c)
	}
	b.ReportAllocs()
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		if d := engine.Decide(ctx, c); d.Rule != "default" {
			b.Fatal(d.Rule, d.Error)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
}
