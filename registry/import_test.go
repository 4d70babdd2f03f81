package registry

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

func importReq(t testing.TB, s *Store, req ImportRequest) ListInfo {
	t.Helper()
	info, err := s.Import(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func writeZip(t testing.TB, path string, modified time.Time, entries ...[2]string) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, e := range entries {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e[0], Method: zip.Deflate, Modified: modified})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e[1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

// One import may mix every accepted format; each file is recognized on its own.
func TestImportRecognizesEveryFormat(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	files := []string{
		writeFile(t, dir, "202.txt", "2025550143\n2025550144\n"),
		writeZip(t, filepath.Join(dir, "303.zip"), time.Now(), [2]string{"303.txt", "303,5550100\n303,5550101\n"}),
		writeFile(t, dir, "plain.txt", "# ours\n+14155550199\n+44 20 7946 0958\n"),
		writeFile(t, dir, "crm.csv", "name,phone\n\"Doe, Ann\",(617) 555-0123\n"),
	}
	info := importReq(t, s, ImportRequest{List: "internal", Files: files})
	if info.Count != 7 || len(info.Sources) != 4 {
		t.Fatalf("imported %+v", info)
	}
	want := []string{"ftc, recognized", "ftc, recognized", "plain, recognized", "csv (column phone), recognized"}
	for i, src := range info.Sources {
		if got := src.Entries[0].Layout.String(); got != want[i] || len(src.SHA256) != 64 {
			t.Errorf("%s read as %q (sha256 %q); want %q", src.Name, got, src.SHA256, want[i])
		}
	}
	if name := info.Sources[1].Entries[0].Name; name != files[1]+":303.txt" {
		t.Errorf("zip entry named %q", name)
	}
	for _, n := range []string{"+12025550143", "+13035550101", "+14155550199", "+442079460958", "+16175550123"} {
		wantListed(t, s, "internal", n, true)
	}
}

func TestFullImportRefusesAChangeList(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	changes := writeFile(t, dir, "changes.txt", "2025550143,2026-11-20,A\n")
	_, err := s.Import(context.Background(), ImportRequest{List: "ftc", Files: []string{changes}})
	if err == nil || !strings.Contains(err.Error(), changes+" is a change list") || !strings.Contains(err.Error(), "--delta") || hasList(s, "ftc") {
		t.Fatalf("error %v", err)
	}
}

func TestSkipInvalidCountsAndReportsBadLines(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	bad := writeFile(t, dir, "bad.txt", "2025550143\n20255501\nhello\n2025550144\n")
	_, err := s.Import(context.Background(), ImportRequest{List: "ftc", Files: []string{bad}})
	if err == nil || !strings.HasPrefix(err.Error(), bad+":2: ") {
		t.Fatalf("without --skip-invalid: %v", err)
	}
	report := filepath.Join(dir, "invalid.txt")
	info := importReq(t, s, ImportRequest{List: "ftc", Files: []string{bad}, SkipInvalid: true, InvalidReport: report})
	text, _ := os.ReadFile(report)
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	if info.Count != 2 || info.Invalid != 2 || info.InvalidReport != report || len(lines) != 2 ||
		!strings.HasPrefix(lines[0], bad+":2: ") || !strings.HasPrefix(lines[1], bad+":3: ") {
		t.Fatalf("info %+v, report:\n%s", info, text)
	}
	// Without a report path, the report goes under the data directory.
	info = importReq(t, s, ImportRequest{List: "ftc", Files: []string{bad}, SkipInvalid: true})
	if !strings.HasPrefix(info.InvalidReport, filepath.Join(dir, "data", "reports", "ftc-")) {
		t.Errorf("default report %q", info.InvalidReport)
	}
	if _, err := os.Stat(info.InvalidReport); err != nil {
		t.Error(err)
	}
}

func TestSourceDate(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	old := writeFile(t, dir, "a.txt", "2025550143\n")
	mtime := time.Date(2026, 10, 2, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(old, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		req        ImportRequest
		date, from string
	}{
		{ImportRequest{Files: []string{old}}, "2026-10-02", "file modification time"},
		{ImportRequest{Files: []string{old}, SourceDate: "2026-11-01"}, "2026-11-01", "given"},
		{ImportRequest{Files: []string{writeFile(t, dir, "dnc_20261115.txt", "2025550143\n"), old}}, "2026-10-02", "file modification time"},
		{ImportRequest{Files: []string{writeFile(t, dir, "dnc_20261115.txt", "2025550143\n")}}, "2026-11-15", "file name"},
		{ImportRequest{Files: []string{writeZip(t, filepath.Join(dir, "x.zip"), time.Date(2026, 11, 18, 23, 0, 0, 0, time.UTC), [2]string{"a.txt", "2025550143\n"})}}, "2026-11-18", "zip entry time"},
		{ImportRequest{Delta: true, Files: []string{writeFile(t, dir, "c.txt", "2025550143,2026-11-20,A\n2025550144,2026-11-19,A\n")}}, "2026-11-20", "change list dates"},
	} {
		c.req.List = "ftc"
		info := importReq(t, s, c.req)
		if info.SourceDate != c.date || info.SourceDateFrom != c.from {
			t.Errorf("%v: source date %s from %q; want %s from %q", c.req.Files, info.SourceDate, info.SourceDateFrom, c.date, c.from)
		}
		if version, asOf, ok := s.ListDate("ftc"); !ok || version != info.Version || asOf.Format(time.DateOnly) != c.date {
			t.Errorf("ListDate = %d, %s, %v", version, asOf, ok)
		}
		if rec, err := s.Version(info.Version); err != nil || rec.SourceDate != c.date || rec.Sources[0].SHA256 != info.Sources[0].SHA256 {
			t.Errorf("version record %+v, %v", rec, err)
		}
	}
	if _, err := s.Import(context.Background(), ImportRequest{List: "ftc", Files: []string{old}, SourceDate: "2026-13-01"}); err == nil {
		t.Error("a bad --source-date was accepted")
	}
}

func TestProgressIsReported(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	var text strings.Builder
	for i := range 50_000 {
		fmt.Fprintf(&text, "%d\n", 2025550000+i%10000+(i/10000)*10000)
	}
	file := writeFile(t, dir, "a.txt", text.String())
	var phases []Progress
	importReq(t, s, ImportRequest{List: "ftc", Files: []string{file}, Progress: func(p Progress) { phases = append(phases, p) }})
	last := map[string]Progress{}
	for _, p := range phases {
		if prev, ok := last[p.Phase]; ok && prev.Done == prev.Total {
			t.Errorf("%s progress %+v after it was complete (%+v)", p.Phase, p, prev)
		}
		last[p.Phase] = p
	}
	if r := last["read"]; r.Done != r.Total || r.Total != int64(text.Len()) || r.Numbers != 50_000 {
		t.Errorf("last read progress %+v", r)
	}
	if w := last["write"]; w.Done != 5 || w.Total != 5 {
		t.Errorf("last write progress %+v", w)
	}
}

// A spreadsheet saving "CSV UTF-8" starts the file with a byte-order mark
// (EF BB BF); every importer reads past it, also inside a zip archive.
func TestEveryImporterSkipsAByteOrderMark(t *testing.T) {
	const bom = "\ufeff"
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	lists := []struct {
		file, text, layout string
		delta              bool
	}{
		{"ftc.txt", bom + "2025550101\n", "ftc, recognized", false},
		{"plain.txt", bom + "+1 202 555 0102\n", "", false},
		{"crm.csv", bom + "phone,name\n2025550103,Ann\n", "csv (column phone), recognized", false},
		{"changes.txt", bom + "2025550104,2026-11-20,A\n", "", true},
		{"changes-header.txt", bom + "number,date,flag\n2025550105,2026-11-20,A\n", "", true},
	}
	for i, l := range lists {
		list := fmt.Sprintf("l%d", i)
		info, err := s.Import(context.Background(), ImportRequest{List: list, Files: []string{writeFile(t, dir, l.file, l.text)}, Delta: l.delta})
		if err != nil {
			t.Errorf("%s: %v", l.file, err)
			continue
		}
		if got := info.Sources[0].Entries[0].Layout.String(); l.layout != "" && got != l.layout {
			t.Errorf("%s read as %q, want %q", l.file, got, l.layout)
		}
		wantListed(t, s, list, fmt.Sprintf("+120255501%02d", i+1), true)
	}
	zipped := writeZip(t, filepath.Join(dir, "ftc.zip"), time.Now(), [2]string{"202.txt", bom + "202,5550199\n"})
	importReq(t, s, ImportRequest{List: "zipped", Files: []string{zipped}})
	wantListed(t, s, "zipped", "+12025550199", true)

	sets := map[string]string{
		KindBlocks:             bom + "npa,nxx,x,type,state\n202,555,0,landline,DC\n",
		KindWirelessToWireline: bom + "2025550106\n",
		KindConsent:            bom + "number,seller,campaign,kind,granted_at\n2025550107,,,express,2026-01-01\n",
		KindRND:                bom + "number,asked_on,answer\n2025550108,2026-01-01,no\n",
		KindEBR:                bom + "number,seller,kind,date\n2025550109,acme,purchase,2026-01-01\n",
	}
	for kind, text := range sets {
		if info := importSet(t, s, DataSetRequest{Kind: kind, Files: []string{writeFile(t, dir, kind+".csv", text)}}); info.Count != 1 {
			t.Errorf("%s: %d records, want 1", kind, info.Count)
		}
	}
	vici := importSet(t, s, DataSetRequest{Kind: KindBlocks, Files: []string{writeFile(t, dir, "prefixes.txt", bom+"202,5551,T,C\n")}})
	if lt, _ := s.LineType("+12025551234", ""); vici.Count != 1 || lt.Type != LineMobile {
		t.Errorf("VICIdial prefix file with a byte-order mark: %+v, %+v", vici, lt)
	}

	// UTF-16 ("Unicode text") is refused at line 1 with what to do, and nothing changes.
	utf16 := writeFile(t, dir, "utf16.txt", "\xff\xfe2\x000\x002\x00")
	_, err := s.Import(context.Background(), ImportRequest{List: "l0", Files: []string{utf16}})
	if err == nil || !strings.HasPrefix(err.Error(), utf16+":1: the file is UTF-16") || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("UTF-16 list: %v", err)
	}
	wantListed(t, s, "l0", "+12025550101", true)
	if _, err := s.ImportDataSet(context.Background(), DataSetRequest{Kind: KindConsent, Files: []string{utf16}}); err == nil || !strings.Contains(err.Error(), "UTF-16") {
		t.Errorf("UTF-16 consent file: %v", err)
	}
}

// A full import that would take more than Options.MaxRemoval of a list's
// numbers off it is refused before anything is written, saying how many would
// go; the change lists and the numbers outside the NANP count; Replace, or a
// larger share, lets it through.
func TestFullImportThatWouldShrinkAListIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	old := importFiles(t, s, "ftc", writeFile(t, dir, "full.txt", "2025550143\n2025550144\n+442079460958\n"))
	one := writeFile(t, dir, "one.txt", "2025550143\n")
	_, err := s.Import(context.Background(), ImportRequest{List: "ftc", Files: []string{one}})
	want := "list ftc: a full import would remove too much of the list: 2 of its 3 numbers would go (66.7%, more than the 10% a full import may remove), " +
		"as the files hold 1 number. To apply the files as changes, import them with --delta; to make them the whole list anyway, add --replace"
	if !errors.Is(err, ErrTooManyRemovals) || err.Error() != want {
		t.Fatalf("shrinking import: %v\nwant %s", err, want)
	}
	if cur := s.current("ftc"); cur.Version != old.Version || cur.Count != 3 || !slices.Equal(dataVersions(t, s), []uint64{old.Version}) {
		t.Errorf("after the refused import: %+v, data %v", cur, dataVersions(t, s))
	}
	wantListed(t, s, "ftc", "+442079460958", true)

	// Change lists count: 5 numbers now, and the full file lacks the two the change list added.
	importReq(t, s, ImportRequest{List: "ftc", Delta: true, Files: []string{writeFile(t, dir, "adds.txt", "2025550145,A\n2025550146,A\n")}})
	same := writeFile(t, dir, "same.txt", "2025550143\n2025550144\n+442079460958\n")
	if _, err := s.Import(context.Background(), ImportRequest{List: "ftc", Files: []string{same}}); err == nil || !strings.Contains(err.Error(), ": 2 of its 5 numbers would go (40%,") {
		t.Errorf("a full file without the change list's additions: %v", err)
	}
	// Within the share (1 of 11 numbers is 9.1%) it goes through.
	var many []string
	for i := range 10 {
		many = append(many, fmt.Sprintf("20255501%02d", 50+i))
	}
	grown := importReq(t, s, ImportRequest{List: "ftc", Replace: true, Files: []string{writeFile(t, dir, "grown.txt", strings.Join(append(many, "2025550143"), "\n")+"\n")}})
	if grown.Count != 11 {
		t.Fatalf("replaced: %+v", grown)
	}
	if info := importFiles(t, s, "ftc", writeFile(t, dir, "less.txt", strings.Join(append(many, "2025550199"), "\n")+"\n")); info.Count != 11 {
		t.Errorf("a full import removing 1 of 11: %+v", info)
	}
	wantListed(t, s, "ftc", "+12025550143", false)

	// Port lists go through the same check; --delta and --replace do not go together.
	w2w := importSet(t, s, DataSetRequest{Kind: KindWirelineToWireless, Files: []string{writeFile(t, dir, "w2w.txt", "2025550101\n2025550102\n")}})
	if _, err := s.ImportDataSet(context.Background(), DataSetRequest{Kind: KindWirelineToWireless, Files: []string{one}}); !errors.Is(err, ErrTooManyRemovals) {
		t.Errorf("a port list file without the list's ports: %v", err)
	}
	if info := importSet(t, s, DataSetRequest{Kind: KindWirelineToWireless, Files: []string{one}, Replace: true}); info.Version <= w2w.Version || info.Count != 1 {
		t.Errorf("port list with Replace: %+v", info)
	}
	if _, err := s.Import(context.Background(), ImportRequest{List: "ftc", Files: []string{one}, Delta: true, Replace: true}); err == nil {
		t.Error("--delta with --replace was accepted")
	}
	if _, err := s.ImportDataSet(context.Background(), DataSetRequest{Kind: KindConsent, Files: []string{one}, Replace: true}); err == nil {
		t.Error("--replace on a consent import was accepted")
	}

	// A store with a larger share lets more go; 1 turns the check off.
	s.Close()
	s = openStoreWith(t, DefaultOptions(filepath.Join(dir, "data")).WithMaxRemoval(0.95))
	if _, err := s.Import(context.Background(), ImportRequest{List: "ftc", Files: []string{one}}); err == nil || !strings.Contains(err.Error(), "11 of its 11 numbers would go (100%, more than the 95%") {
		t.Errorf("with MaxRemoval 0.95: %v", err)
	}
	s.Close()
	s = openStoreWith(t, DefaultOptions(filepath.Join(dir, "data")).WithMaxRemoval(1))
	if info, err := s.Import(context.Background(), ImportRequest{List: "ftc", Files: []string{one}}); err != nil || info.Count != 1 {
		t.Errorf("with MaxRemoval 1: %+v %v", info, err)
	}
}

func TestRemovalSharesReadAsMoreThanTheLimit(t *testing.T) {
	for _, tc := range []struct {
		part, whole int64
		want        string
	}{{2, 3, "66.7%"}, {2, 5, "40%"}, {1001, 10000, "10.1%"}, {1, 1, "100%"}, {249434244, 249434245, "100%"}, {1, 249434245, "0.1%"}} {
		if got := shareOf(tc.part, tc.whole); got != tc.want {
			t.Errorf("shareOf(%d, %d) = %s; want %s", tc.part, tc.whole, got, tc.want)
		}
	}
}

// A full import of files that hold no number (an empty or cut-short
// download) is refused, whether the list is new or holds numbers: the list
// would be empty and fresh. --replace makes it empty on purpose.
func TestAnImportOfNoNumbersIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	empty := writeFile(t, dir, "empty.txt", "# nothing today\n\n")
	for _, list := range []string{"ftc", "internal"} {
		if list == "internal" {
			importReq(t, s, ImportRequest{List: list, Files: []string{writeFile(t, dir, "one.txt", "2025550143\n")}})
		}
		_, err := s.Import(context.Background(), ImportRequest{List: list, Files: []string{empty}})
		if !errors.Is(err, ErrNoNumbers) || !strings.Contains(err.Error(), empty) {
			t.Errorf("%s: importing an empty file gave %v, want %v naming the file", list, err, ErrNoNumbers)
		}
	}
	// Every line malformed: not even --replace empties the list.
	garbled := writeFile(t, dir, "garbled.txt", "202-555-O143\nnot a number\n")
	_, err := s.Import(context.Background(), ImportRequest{List: "internal", Files: []string{garbled}, Format: formats.Plain, SkipInvalid: true, Replace: true})
	if !errors.Is(err, ErrNoNumbers) || !strings.Contains(err.Error(), "2 malformed lines and none read") {
		t.Errorf("an import of malformed lines only gave %v", err)
	}
	if info := s.current("internal"); info.Count != 1 {
		t.Errorf("internal holds %d numbers after the refused imports, want 1", info.Count)
	}
	if info := importReq(t, s, ImportRequest{List: "internal", Files: []string{empty}, Replace: true}); info.Count != 0 {
		t.Errorf("--replace with an empty file left %d numbers", info.Count)
	}
}
