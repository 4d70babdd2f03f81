package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeData writes a data file into dir and returns its path.
func writeData(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func importSet(t *testing.T, s *Store, req DataSetRequest) ListInfo {
	t.Helper()
	info, err := s.ImportDataSet(context.Background(), req)
	if err != nil {
		t.Fatalf("import %s: %v", req.Kind, err)
	}
	return info
}

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func TestLineTypeResolutionOrder(t *testing.T) {
	s, dir := openTemp(t)
	blocks := writeData(t, dir, "blocks-2026-11-01.csv", "NPA,NXX,X,LTYPE,STATE\n"+
		"202,555,0,wireless,DC\n"+ // 202-555-0xxx mobile
		"202,555,1,landline,DC\n"+
		"202,555,2,V,DC\n"+
		"202,555,3,pager,\n"+
		"202,555,4,M,\n"+
		"303,555,9,landline,CO\n")
	info := importSet(t, s, DataSetRequest{Kind: KindBlocks, Files: []string{blocks}, Map: []string{"type=LTYPE"}})
	if info.Count != 6 || info.SourceDate != "2026-11-01" || len(info.Sources) != 1 || len(info.Sources[0].SHA256) != 64 {
		t.Fatalf("blocks import: %+v", info)
	}
	importSet(t, s, DataSetRequest{Kind: KindWirelineToWireless, Files: []string{writeData(t, dir, "w2w.txt", "2025551100\n")}, SourceDate: "2026-11-01"})
	daily := importSet(t, s, DataSetRequest{Kind: KindWirelineToWireless, Files: []string{writeData(t, dir, "w2w-daily.txt", "2025551101\n")}, SourceDate: "2026-11-18", Delta: true})
	wl := importSet(t, s, DataSetRequest{Kind: KindWirelessToWireline, Files: []string{writeData(t, dir, "wl.txt", "2025550001\n")}})

	cases := []struct {
		number, rn    string
		typ, source   string
		version       uint64
		detail, state string
		portedOn      string
	}{
		{"+12025550001", "", LineLandline, SourcePortedToWireline, wl.Version, "", "", ""},            // a wireless block, ported away
		{"+12025551100", "", LineMobile, SourcePortedToWireless, daily.Version, "", "", ""},           // full list: no port date
		{"+12025551101", "", LineMobile, SourcePortedToWireless, daily.Version, "", "", "2026-11-18"}, // daily file: its date
		{"+12025551234", "+12025550999", LineMobile, SourceLRNBlock, info.Version, "wireless 202-555-0", "DC", ""},
		{"+12025551234", "", LineLandline, SourceBlock, info.Version, "landline 202-555-1", "DC", ""},
		{"+12025552000", "", LineVoIP, SourceBlock, info.Version, "voip 202-555-2", "DC", ""},
		{"+12025553000", "", LineMobile, SourceBlock, info.Version, "pager 202-555-3", "", ""},
		{"+12025554000", "", LineUnknown, SourceBlock, info.Version, "mixed 202-555-4", "", ""},
		{"+12025559000", "+13035559999", LineLandline, SourceLRNBlock, info.Version, "landline 303-555-9", "CO", ""},
		{"+12025559000", "", LineUnknown, SourceNone, 0, "", "", ""},
		{"+447911123456", "", LineMobile, SourcePhonenumbers, 0, "mobile range", "", ""},
		{"+442079460000", "", LineLandline, SourcePhonenumbers, 0, "fixed-line range", "", ""},
	}
	for _, tc := range cases {
		lt, err := s.LineType(tc.number, tc.rn)
		if err != nil {
			t.Fatal(err)
		}
		ported := ""
		if !lt.PortedOn.IsZero() {
			ported = lt.PortedOn.Format(time.DateOnly)
		}
		if lt.Type != tc.typ || lt.Source != tc.source || lt.Version != tc.version || strings.TrimSpace(lt.Detail+" "+blockText(lt.Block)) != tc.detail || lt.State != tc.state || ported != tc.portedOn {
			t.Errorf("%s rn %q: %+v; want %s from %s v%d %q state %q ported %q", tc.number, tc.rn, lt, tc.typ, tc.source, tc.version, tc.detail, tc.state, tc.portedOn)
		}
	}

	// The data survives a restart, and a new version replaces the old one whole.
	s.Close()
	s2, err := Open(DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if lt, _ := s2.LineType("+12025550123", ""); lt.Type != LineMobile || lt.Version != info.Version {
		t.Errorf("after reopening: %+v", lt)
	}
	vici := writeData(t, dir, "prefixes.txt", "202,5551,T,S,extra\n202,556,T,C\n")
	next := importSet(t, s2, DataSetRequest{Kind: KindBlocks, Files: []string{vici}})
	if next.Sources[0].Entries[0].Layout.Format != "vicidial prefix file" {
		t.Errorf("layout: %+v", next.Sources[0].Entries[0])
	}
	for number, want := range map[string]string{"+12025550123": LineUnknown, "+12025551234": LineLandline, "+12025569999": LineMobile} {
		if lt, _ := s2.LineType(number, ""); lt.Type != want || (want != LineUnknown && lt.Version != next.Version) {
			t.Errorf("after the VICIdial import, %s: %+v; want %s", number, lt, want)
		}
	}
	sets, _ := s2.DataSets()
	if len(sets) != 1 || sets[0].Name != KindBlocks || sets[0].Version != next.Version {
		t.Errorf("data sets: %+v", sets)
	}
	if old, err := s2.Version(info.Version); err != nil || old.Name != KindBlocks || old.Count != 6 {
		t.Errorf("the old version's record: %+v, %v", old, err)
	}
}

func TestDataSetFileErrorsNameFileAndLine(t *testing.T) {
	s, dir := openTemp(t)
	cases := []struct {
		kind, name, text string
		mapping          []string
		want             string
	}{
		{KindBlocks, "b1.csv", "npa,nxx,x,type\n202,555,1,wireless\n202,555,2,cellular\n", nil, "b1.csv:3: type \"cellular\" is not wireless, landline, voip, pager or mixed"},
		{KindBlocks, "b2.csv", "npa,nxx,x,kind\n202,555,1,C\n", nil, "b2.csv:1: the header has no column \"type\""},
		{KindBlocks, "b3.csv", "npa,nxx,x,LT\n202,555,1,C\n", []string{"typo=LT"}, "b3.csv:1: --map typo: no such column"},
		{KindBlocks, "b4.txt", "202,5551,T,C\n202,55,T,C\n", nil, "b4.txt:2: prefix \"55\" is not NXX or NXX+X"},
		{KindBlocks, "b5.txt", "202,5551,T,Q\n", nil, "b5.txt:1: type \"Q\" is not"},
		{KindConsent, "c1.csv", "number,kind,granted_at\n2025550143,written,2026-02-30\n", nil, "c1.csv:2: granted_at: \"2026-02-30\" is not a time"},
		{KindConsent, "c2.csv", "number,kind\n2025550143,written\n", nil, "c2.csv:1: the header has no column \"granted_at\""},
		{KindConsent, "c3.csv", "number,kind,granted_at\n2025550143,oral,2026-01-01\n", nil, "c3.csv:2: kind \"oral\" is not express or written"},
		{KindConsent, "c4.csv", "number,kind,granted_at,expires_at\n2025550143,express,2026-01-01,2025-01-01\n", nil, "c4.csv:2: expires_at"},
		{KindRND, "r1.csv", "number,asked_on,answer\n2025550143,2026-01-01,maybe\n", nil, "r1.csv:2: answer \"maybe\" is not yes, no or no_data"},
		{KindEBR, "e1.csv", "number,seller,kind,date\n12345,acme,purchase,2026-01-01\n", nil, "e1.csv:2: number:"},
		{KindEBR, "e2.csv", "number,seller,kind,date\n2025550143,acme,visit,2026-01-01\n", nil, "e2.csv:2: kind \"visit\" is not purchase, inquiry or permission"},
	}
	for _, tc := range cases {
		path := writeData(t, dir, tc.name, tc.text)
		_, err := s.ImportDataSet(context.Background(), DataSetRequest{Kind: tc.kind, Files: []string{path}, Map: tc.mapping})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Join(dir, tc.name)) {
			t.Errorf("%s: %v; want an error containing %q", tc.name, err, tc.want)
		}
	}
	if sets, _ := s.DataSets(); len(sets) != 0 {
		t.Errorf("a failed import left a data set: %+v", sets)
	}
	if _, err := s.ImportDataSet(context.Background(), DataSetRequest{Kind: "carrier", Files: []string{"x"}}); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestConsentAppliesOrSaysWhyNot(t *testing.T) {
	s, dir := openTemp(t)
	consents := writeData(t, dir, "consent.csv", "number,seller,campaign,kind,granted_at,expires_at,revoked_at,evidence\n"+
		"2025550001,acme,,written,2026-01-10,,,form 17\n"+ // good for acme
		"2025550001,,,express,2025-06-01,,,\n"+ // any seller, weaker
		"2025550002,acme,,written,2026-01-10,,2026-02-01T10:00:00Z,form 18\n"+ // revoked in the file
		"2025550003,acme,,written,2025-01-10,2026-01-10,,\n"+ // expired
		"2025550004,globex,spring,express,2026-01-10,,,\n"+ // other seller
		"2025550005,acme,,written,2025-06-01,,,\n"+ // voided by an RND yes
		"2025550006,acme,,express,2025-06-01,,,\n") // RND said yes before the grant: still good
	info := importSet(t, s, DataSetRequest{Kind: KindConsent, Files: []string{consents}})
	rnd := importSet(t, s, DataSetRequest{Kind: KindRND, Files: []string{writeData(t, dir, "rnd.csv",
		"number,asked_on,answer,disconnected_on\n2025550005,2025-06-01,yes,2025-09-15\n2025550006,2025-01-01,yes,2025-03-01\n")}})
	at := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	cases := []struct {
		number, seller, campaign string
		kind, why, id            string
	}{
		{"+12025550001", "acme", "", ConsentWritten, "", "1"},
		{"+12025550001", "globex", "", ConsentExpress, "", "2"},
		{"+12025550002", "acme", "", ConsentNone, WhyRevoked, "3"},
		{"+12025550003", "acme", "", ConsentNone, WhyExpired, "4"},
		{"+12025550004", "acme", "spring", ConsentNone, WhyOutOfScope, "5"},
		{"+12025550004", "globex", "fall", ConsentNone, WhyOutOfScope, "5"},
		{"+12025550004", "globex", "spring", ConsentExpress, "", "5"},
		{"+12025550005", "acme", "", ConsentNone, WhyReassigned, "6"},
		{"+12025550006", "acme", "", ConsentExpress, "", "7"},
		{"+12025550099", "acme", "", ConsentNone, WhyAbsent, ""},
	}
	for _, tc := range cases {
		a, err := s.Consent(tc.number, tc.seller, tc.campaign, at)
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
	if a, _ := s.Consent("+12025550005", "acme", "", at); a.RNDVersion != rnd.Version || !strings.Contains(a.Detail, "disconnected since 2025-09-15") {
		t.Errorf("reassigned: %+v", a)
	}
	if a, _ := s.Consent("+12025550001", "acme", "", at); a.Record.Source != consents+":2" || a.Record.Evidence != "form 17" {
		t.Errorf("evidence: %+v", a.Record)
	}

	// Revoked live: the very next question sees it; a later grant is a new consent.
	revocation, err := s.ChangeConsent(ConsentRequest{Revoke: true, Number: "+12025550001", Seller: "acme", By: "ops", Via: "test", At: at.Add(-time.Hour)})
	if err != nil || revocation.Action != "revoke" {
		t.Fatal(revocation, err)
	}
	if a, _ := s.Consent("+12025550001", "acme", "", at); a.Kind != ConsentNone || a.Why != WhyRevoked || !strings.Contains(a.Detail, "by ops via test") {
		t.Errorf("after a live revocation for acme: %+v", a)
	}
	if a, _ := s.Consent("+12025550001", "globex", "", at); a.Kind != ConsentExpress {
		t.Errorf("a revocation for acme withdrew globex's consent: %+v", a)
	}
	if a, _ := s.Consent("+12025550001", "acme", "", at.Add(-2*time.Hour)); a.Kind != ConsentWritten {
		t.Errorf("a call before the revocation: %+v", a)
	}
	added, err := s.ChangeConsent(ConsentRequest{Number: "+12025550001", Seller: "acme", Kind: "express", By: "ops", Via: "test", At: at.Add(-time.Minute), Evidence: "call 9"})
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Consent("+12025550001", "acme", "", at); a.Kind != ConsentExpress || a.Record.ID != added.Record.ID {
		t.Errorf("after a new live grant: %+v", a)
	}
	if _, err := s.ChangeConsent(ConsentRequest{Number: "+12025550001", Kind: "verbal", By: "ops", Via: "test"}); err == nil {
		t.Error("a bad kind was accepted")
	}

	// Live changes survive a restart and a new import.
	s.Close()
	s, err = Open(DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	importSet(t, s, DataSetRequest{Kind: KindConsent, Files: []string{consents}})
	if a, _ := s.Consent("+12025550001", "acme", "", at); a.Kind != ConsentExpress || a.Record.ID != added.Record.ID {
		t.Errorf("after a restart and a new import: %+v", a)
	}
	d, err := s.NumberData("+12025550001", "")
	if err != nil || len(d.Consents) != 3 || len(d.Revocations) != 1 || len(d.RND) != 0 {
		t.Errorf("number data: %+v, %v", d, err)
	}
	if _, err := json.Marshal(d); err != nil {
		t.Error(err)
	}
}

func TestExemptionPeriods(t *testing.T) {
	s, dir := openTemp(t)
	importSet(t, s, DataSetRequest{Kind: KindEBR, Files: []string{writeData(t, dir, "ebr.csv", "number,seller,kind,date\n"+
		"2025550001,acme,purchase,2024-10-01\n"+
		"2025550002,acme,inquiry,2026-01-15\n"+
		"2025550003,acme,permission,2020-01-01\n"+
		"2025550004,globex,purchase,2026-01-01\n"+
		"2025550005,,inquiry,2026-02-01\n")}})
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
		a, err := s.Exemption(tc.number, "acme", at, DefaultExemptionPeriods)
		if err != nil || a.InForce != tc.inForce || a.Why != tc.why || a.Version == 0 {
			t.Errorf("%s at %s: %+v, %v; want in force %v, why %q", tc.number, tc.at, a, err, tc.inForce, tc.why)
		}
	}
	// Shorter periods are the policy's to set.
	at, _ := time.Parse(time.RFC3339, "2026-03-31T12:00:00Z")
	if a, _ := s.Exemption("+12025550001", "acme", at, ExemptionPeriods{Purchase: Period{Months: 12}}); a.InForce {
		t.Errorf("a 12-month period: %+v", a)
	}
}

func blockText(b Block) string {
	if b == 0 {
		return ""
	}
	return b.String()
}

// VICIdial's prefix file with its header line (areacode,prefix,...) and a
// consent export with a CRM's column names load without --map.
func TestDataSetFilesWithTheFieldsColumnNames(t *testing.T) {
	s, dir := openTemp(t)
	prefixes := writeData(t, dir, "prefixes.csv", "areacode,prefix,source,type,extra\n202,5550,T,C,x\n202,556,T,S,x\n")
	info := importSet(t, s, DataSetRequest{Kind: KindBlocks, Files: []string{prefixes}})
	if info.Count != 2 || info.Sources[0].Entries[0].Layout.Format != "blocks csv" {
		t.Fatalf("prefix file with a header: %+v", info)
	}
	for number, want := range map[string]string{"+12025550123": LineMobile, "+12025551234": LineUnknown, "+12025569999": LineLandline} {
		if lt, _ := s.LineType(number, ""); lt.Type != want {
			t.Errorf("%s: %+v; want %s", number, lt, want)
		}
	}
	consent := writeData(t, dir, "consent.csv", "Phone Number,Company,Consent Type,Opt-In Date\n(202) 555-0143,acme,express,2026-01-02\n")
	if info := importSet(t, s, DataSetRequest{Kind: KindConsent, Files: []string{consent}}); info.Count != 1 {
		t.Errorf("consent with a CRM's column names: %+v", info)
	}
	if d, err := s.NumberData("+12025550143", ""); err != nil || len(d.Consents) != 1 || d.Consents[0].Seller != "acme" {
		t.Errorf("consent read back: %+v %v", d.Consents, err)
	}
}
