package registry

import (
	"context"
	"encoding/json"
	"errors"
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
		{"+12025559000", "", LineUnknown, SourceNone, info.Version, "", "", ""}, // the blocks' version found none
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
		// The port lists asked before the answer, that do not hold the number.
		want := [2]uint64{daily.Version, wl.Version}
		switch tc.source {
		case SourcePortedToWireless:
			want = [2]uint64{}
		case SourcePortedToWireline:
			want[1] = 0
		}
		if lt.NotPorted != want {
			t.Errorf("%s: not ported by %v; want %v", tc.number, lt.NotPorted, want)
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

// An export with a header and no record would drop every record of the
// data set (every consent, every block's line type): it is refused, and
// the version in force stays.
func TestADataSetFileWithoutRecordsIsRefused(t *testing.T) {
	s, dir := openTemp(t)
	before := importSet(t, s, DataSetRequest{Kind: KindConsent, Files: []string{writeData(t, dir, "c.csv", "number,kind,granted_at\n2025550143,written,2026-01-01\n")}})
	empty := writeData(t, dir, "empty.csv", "number,kind,granted_at\n")
	_, err := s.ImportDataSet(context.Background(), DataSetRequest{Kind: KindConsent, Files: []string{empty}})
	if !errors.Is(err, ErrNoNumbers) || !strings.Contains(err.Error(), empty) {
		t.Errorf("an export without records gave %v, want %v naming the file", err, ErrNoNumbers)
	}
	if sets, _ := s.DataSets(); len(sets) != 1 || sets[0].Version != before.Version {
		t.Errorf("data sets after the refusal: %+v, want version %d", sets, before.Version)
	}
}

// TestConsentRecordsStoredAndChangedLive checks that imported consents and RND
// answers come back whole, and that live changes are kept across a restart
// and a new import. What they mean for a call is the policy's (policy/consent_test.go).
func TestConsentRecordsStoredAndChangedLive(t *testing.T) {
	s, dir := openTemp(t)
	consents := writeData(t, dir, "consent.csv", "number,seller,campaign,kind,granted_at,expires_at,revoked_at,evidence\n"+
		"2025550001,acme,,written,2026-01-10,,,form 17\n"+
		"2025550001,,,express,2025-06-01,,,\n"+
		"2025550002,acme,spring,written,2025-01-10,2026-01-10,2026-02-01T10:00:00Z,form 18\n")
	info := importSet(t, s, DataSetRequest{Kind: KindConsent, Files: []string{consents}})
	rnd := importSet(t, s, DataSetRequest{Kind: KindRND, Files: []string{writeData(t, dir, "rnd.csv",
		"number,asked_on,answer,disconnected_on\n2025550002,2025-06-01,yes,2025-09-15\n2025550002,2025-01-01,no_data,\n")}})
	day := func(s string) time.Time {
		t, _ := time.Parse(time.RFC3339, s)
		return t
	}
	records, revocations, version, err := s.Consents("+12025550002")
	want := ConsentRecord{ID: fmt.Sprintf("%d.3", info.Version), Number: "+12025550002", Seller: "acme", Campaign: "spring",
		Kind: ConsentWritten, GrantedAt: day("2025-01-10T00:00:00Z"), ExpiresAt: day("2026-01-10T00:00:00Z"),
		RevokedAt: day("2026-02-01T10:00:00Z"), Evidence: "form 18", Source: consents + ":4", Version: info.Version}
	if err != nil || len(records) != 1 || records[0] != want || len(revocations) != 0 || version != info.Version {
		t.Errorf("consents of +12025550002: %+v %+v v%d, %v; want %+v", records, revocations, version, err, want)
	}
	answers, version, err := s.RNDAnswers("+12025550002")
	if err != nil || len(answers) != 2 || version != rnd.Version || answers[0].Answer != "yes" || !answers[0].DisconnectedOn.Equal(day("2025-09-15T00:00:00Z")) ||
		answers[1].Answer != "no_data" || !answers[1].DisconnectedOn.IsZero() || answers[1].ID != fmt.Sprintf("%d.2", rnd.Version) {
		t.Errorf("RND answers of +12025550002: %+v v%d, %v", answers, version, err)
	}
	if records, _, _, err := s.Consents("+12025550099"); err != nil || len(records) != 0 {
		t.Errorf("consents of a number without any: %+v, %v", records, err)
	}

	// Changed live: the very next lookup sees it.
	at := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	revocation, err := s.ChangeConsent(ConsentRequest{Revoke: true, Number: "+12025550001", Seller: "acme", By: "ops", Via: "test", At: at.Add(-time.Hour)})
	if err != nil || revocation.Action != "revoke" {
		t.Fatal(revocation, err)
	}
	added, err := s.ChangeConsent(ConsentRequest{Number: "+12025550001", Seller: "acme", Kind: "express", By: "ops", Via: "test", At: at.Add(-time.Minute), Evidence: "call 9"})
	if err != nil || added.Action != "add" || added.Record.Kind != ConsentExpress || !added.Record.GrantedAt.Equal(at.Add(-time.Minute)) {
		t.Fatal(added, err)
	}
	if _, err := s.ChangeConsent(ConsentRequest{Number: "+12025550001", Kind: "verbal", By: "ops", Via: "test"}); err == nil {
		t.Error("a bad kind was accepted")
	}
	live := func(s *Store, when string) {
		t.Helper()
		records, revocations, _, err := s.Consents("+12025550001")
		if err != nil || len(records) != 3 || records[0].Evidence != "form 17" || records[0].Source != consents+":2" || records[2].ID != added.Record.ID ||
			len(revocations) != 1 || revocations[0].Seller != "acme" || revocations[0].By != "ops" || !revocations[0].At.Equal(at.Add(-time.Hour)) {
			t.Errorf("%s: consents %+v, revocations %+v, %v", when, records, revocations, err)
		}
	}
	live(s, "after the live changes")

	// Live changes survive a restart and a new import.
	s.Close()
	s, err = Open(DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	importSet(t, s, DataSetRequest{Kind: KindConsent, Files: []string{consents}})
	live(s, "after a restart and a new import")
	d, err := s.NumberData("+12025550001", "")
	if err != nil || len(d.Consents) != 3 || len(d.Revocations) != 1 || len(d.RND) != 0 {
		t.Errorf("number data: %+v, %v", d, err)
	}
	if _, err := json.Marshal(d); err != nil {
		t.Error(err)
	}
}

// TestExemptionRecordsStored checks that imported exemptions come back whole.
// How long they last is the policy's (policy/exempt_test.go).
func TestExemptionRecordsStored(t *testing.T) {
	s, dir := openTemp(t)
	ebr := writeData(t, dir, "ebr.csv", "number,seller,kind,date\n"+
		"2025550001,acme,purchase,2024-10-01\n"+
		"2025550001,,inquiry,2026-01-15\n"+
		"2025550003,globex,permission,2020-01-01\n")
	info := importSet(t, s, DataSetRequest{Kind: KindEBR, Files: []string{ebr}})
	records, version, err := s.Exemptions("+12025550001")
	if err != nil || version != info.Version || len(records) != 2 {
		t.Fatalf("exemptions: %+v v%d, %v", records, version, err)
	}
	for i, want := range []ExemptionRecord{
		{ID: fmt.Sprintf("%d.1", info.Version), Number: "+12025550001", Seller: "acme", Kind: ExemptPurchase, Date: time.Date(2024, 10, 1, 0, 0, 0, 0, time.UTC), Source: ebr + ":2", Version: info.Version},
		{ID: fmt.Sprintf("%d.2", info.Version), Number: "+12025550001", Kind: ExemptInquiry, Date: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC), Source: ebr + ":3", Version: info.Version},
	} {
		if records[i] != want {
			t.Errorf("record %d: %+v; want %+v", i, records[i], want)
		}
	}
	if records, _, _ := s.Exemptions("+12025550003"); len(records) != 1 || records[0].Kind != ExemptPermission || records[0].Seller != "globex" {
		t.Errorf("a permission: %+v", records)
	}
	if records, version, err := s.Exemptions("+12025550009"); err != nil || len(records) != 0 || version != info.Version {
		t.Errorf("a number without any: %+v v%d, %v", records, version, err)
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
