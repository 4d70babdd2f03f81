package registry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/dgraph-io/badger/v4"
)

func openStore(t testing.TB, dir string) *Store {
	t.Helper()
	return openStoreWith(t, DefaultOptions(dir))
}

func openStoreWith(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func writeFile(t testing.TB, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func importFiles(t testing.TB, s *Store, list string, files ...string) ListInfo {
	t.Helper()
	info, err := s.Import(context.Background(), ImportRequest{List: list, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func hasList(s *Store, name string) bool {
	_, ok := s.catalog.Load().lists[name]
	return ok
}

func wantListed(t testing.TB, s *Store, list, e164 string, want bool) {
	t.Helper()
	got, _, err := s.Listed(list, e164)
	if err != nil || got != want {
		t.Errorf("Listed(%s, %s) = %v, %v; want %v", list, e164, got, err, want)
	}
}

// dataVersions lists the storage ids that have data keys in the database.
func dataVersions(t testing.TB, s *Store) []uint64 {
	t.Helper()
	var versions []uint64
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{dataTag}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, _ := storageOf(it.Item().Key())
			if len(versions) == 0 || versions[len(versions)-1] != v {
				versions = append(versions, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return versions
}

func TestImportAcceptsEveryLineForm(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	a := writeFile(t, dir, "a.txt", "# internal opt-outs\n\n2025550143\n303,5550100\r\n14155550199\n  +16175550123  \n")
	bText := "+1-212-555-0142\n+44 20 7946 0958\n2025550143\n"
	b := writeFile(t, dir, "b.txt", bText)
	info := importFiles(t, s, "internal", a, b)

	if info.Name != "internal" || info.Count != 6 || info.Version == 0 || len(info.Sources) != 2 {
		t.Fatalf("imported %+v; want 6 distinct numbers from 2 files", info)
	}
	if src := info.Sources[1]; src.Name != b || src.Size != int64(len(bText)) || len(src.SHA256) != 64 {
		t.Errorf("source %+v", src)
	}
	for _, n := range []string{"+12025550143", "+13035550100", "+14155550199", "+16175550123", "+12125550142", "+442079460958"} {
		wantListed(t, s, "internal", n, true)
	}
	for _, n := range []string{"+12025550144", "+12025560143", "+442079460959", "+33142685300"} {
		wantListed(t, s, "internal", n, false)
	}
	wantListed(t, s, "ftc", "+12025550143", false)
	if !hasList(s, "internal") || hasList(s, "ftc") {
		t.Error("HasList is wrong")
	}
}

func TestBadLineFailsImportAndKeepsPreviousVersion(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	first := importFiles(t, s, "internal", writeFile(t, dir, "good.txt", "2025550143\n"))

	good := writeFile(t, dir, "more.txt", "2025550199\n")
	bad := writeFile(t, dir, "bad.txt", "# header\n3035550100\n303555010\n")
	_, err := s.Import(context.Background(), ImportRequest{List: "internal", Files: []string{good, bad}})
	if err == nil || !strings.HasPrefix(err.Error(), bad+":3: \"303555010\" is not a number") {
		t.Fatalf("error = %v; want %s:3 and the reason", err, bad)
	}
	wantListed(t, s, "internal", "+12025550143", true)
	wantListed(t, s, "internal", "+12025550199", false)
	wantListed(t, s, "internal", "+13035550100", false)
	lists, _ := s.Lists()
	if len(lists) != 1 || lists[0].Version != first.Version || lists[0].Count != 1 {
		t.Errorf("lists after a failed import: %+v; want version %d unchanged", lists, first.Version)
	}
	if v := dataVersions(t, s); !slices.Equal(v, []uint64{first.Version}) {
		t.Errorf("data versions %v; want only %d", v, first.Version)
	}

	_, err = s.Import(context.Background(), ImportRequest{List: "internal", Files: []string{filepath.Join(dir, "missing.txt")}})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	wantListed(t, s, "internal", "+12025550143", true)
}

func TestReimportReplacesTheList(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	v1 := importFiles(t, s, "internal", writeFile(t, dir, "v1.txt", "2025550143\n2025550144\n+442079460958\n"))
	v2 := importReq(t, s, ImportRequest{List: "internal", Files: []string{writeFile(t, dir, "v2.txt", "2025550144\n2025550145\n")}, Replace: true})

	if v2.Version <= v1.Version || v2.Count != 2 {
		t.Fatalf("v1 %+v, v2 %+v", v1, v2)
	}
	wantListed(t, s, "internal", "+12025550143", false)
	wantListed(t, s, "internal", "+12025550144", true)
	wantListed(t, s, "internal", "+12025550145", true)
	wantListed(t, s, "internal", "+442079460958", false)
	if v := dataVersions(t, s); !slices.Equal(v, []uint64{v2.Version}) {
		t.Errorf("data versions %v; want only %d (the old one deleted)", v, v2.Version)
	}
}

func TestSameNumberInTwoLists(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	both := writeFile(t, dir, "both.txt", "2025550143\n+442079460958\n")
	ftc := importFiles(t, s, "ftc", both, writeFile(t, dir, "ftc.txt", "2025550199\n"))
	internal := importFiles(t, s, "internal", both)

	for _, n := range []string{"+12025550143", "+442079460958"} {
		got, err := s.Lookup(n)
		want := []Listing{{List: "ftc", Version: ftc.Version}, {List: "internal", Version: internal.Version}}
		if err != nil || !slices.Equal(got.Listings, want) || got.Number != n {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v", n, got, err, want)
		}
	}
	if got, err := s.Lookup("+12025550199"); err != nil || !slices.Equal(got.Listings, []Listing{{List: "ftc", Version: ftc.Version}}) {
		t.Errorf("Lookup(ftc only) = %+v, %v", got, err)
	}
	if got, err := s.Lookup("+12025550100"); err != nil || got.Listings == nil || len(got.Listings) != 0 {
		t.Errorf("Lookup(absent) = %#v, %v; want an empty, non-nil slice", got, err)
	}
	lists, _ := s.Lists()
	if len(lists) != 2 || lists[0].Name != "ftc" || lists[1].Name != "internal" || lists[0].Count != 3 {
		t.Errorf("Lists = %+v", lists)
	}
}

func TestListsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	info := importFiles(t, s, "internal", writeFile(t, dir, "a.txt", "2025550143\n"))
	if _, err := Open(DefaultOptions(filepath.Join(dir, "data"))); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: %v; want ErrLocked", err)
	}
	s.Close()

	s = openStore(t, filepath.Join(dir, "data"))
	wantListed(t, s, "internal", "+12025550143", true)
	if lists, _ := s.Lists(); len(lists) != 1 || lists[0].Version != info.Version || !lists[0].ImportedAt.Equal(info.ImportedAt) {
		t.Errorf("after reopen: %+v; want %+v", lists, info)
	}
	next := importFiles(t, s, "ftc", writeFile(t, dir, "b.txt", "2025550143\n"))
	if next.Version <= info.Version {
		t.Errorf("version %d issued after %d", next.Version, info.Version)
	}
}

// An import killed after writing some data leaves keys under a version no
// list points at: they must not answer, and the next Open removes them.
func TestLeftoversOfAKilledImportAreRemoved(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	info := importFiles(t, s, "internal", writeFile(t, dir, "a.txt", "2025550143\n"))
	orphan, err := s.nextID()
	if err != nil {
		t.Fatal(err)
	}
	var x exchangeLines
	x.add(199)
	value, _ := x.encode()
	wb := s.db.NewWriteBatch()
	wb.Set(exchangeKey(nil, orphan, 202555), value)
	wb.Set(filterKey(orphan), []byte("x"))
	wb.Set(foreignKey(nil, orphan, "+442079460958"), foreignValue)
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	wantListed(t, s, "internal", "+12025550199", false)
	wantListed(t, s, "internal", "+442079460958", false)
	s.Close()

	s = openStore(t, filepath.Join(dir, "data"))
	if v := dataVersions(t, s); !slices.Equal(v, []uint64{info.Version}) {
		t.Errorf("data versions after reopen %v; want only %d", v, info.Version)
	}
	wantListed(t, s, "internal", "+12025550143", true)
}

func TestCancelledImportAppliesNothing(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Import(ctx, ImportRequest{List: "internal", Files: []string{writeFile(t, dir, "a.txt", "2025550143\n")}})
	if !errors.Is(err, context.Canceled) || hasList(s, "internal") || len(dataVersions(t, s)) != 0 {
		t.Fatalf("cancelled import: err %v, list present %v", err, hasList(s, "internal"))
	}
}

func TestImportRefusesBadRequests(t *testing.T) {
	s := openStore(t, t.TempDir())
	for _, req := range []ImportRequest{{List: "", Files: []string{"x"}}, {List: "a/b", Files: []string{"x"}}, {List: "ok"}} {
		if _, err := s.Import(context.Background(), req); err == nil {
			t.Errorf("Import(%+v) succeeded", req)
		}
	}
}

// Lookups keep answering from a complete version while imports replace it.
func TestLookupsDuringImports(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	var text strings.Builder
	for i := range 20_000 {
		fmt.Fprintf(&text, "%d\n", 2_025_550_000+i*7) // spans several exchanges
	}
	files := []string{writeFile(t, dir, "a.txt", text.String()+"+442079460958\n"), writeFile(t, dir, "b.txt", text.String())}
	importFiles(t, s, "ftc", files[0])

	var stop atomic.Bool
	var wrong atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				if ok, _, err := s.Listed("ftc", "+12025550000"); !ok || err != nil {
					wrong.Add(1)
				}
				if ok, _, err := s.Listed("ftc", "+12025550001"); ok || err != nil {
					wrong.Add(1)
				}
			}
		})
	}
	for i := range 6 {
		importFiles(t, s, "ftc", files[i%2])
	}
	stop.Store(true)
	wg.Wait()
	if wrong.Load() != 0 {
		t.Fatalf("%d wrong answers during imports", wrong.Load())
	}
	wantListed(t, s, "ftc", "+442079460958", false) // the last import was b.txt
}

// Every answer cites the version that gave it: lookups running while imports
// switch a list and the exemption data back and forth between a version
// that holds the number and one that does not never pair an answer with
// the other version.
func TestAnswersCiteTheVersionThatGaveThem(t *testing.T) {
	dir := t.TempDir()
	s := openStoreWith(t, DefaultOptions(filepath.Join(dir, "data")).WithMaxRemoval(1))
	const number = "+12025550143"
	const header = "number,seller,kind,date\n"
	listFiles := []string{writeFile(t, dir, "with.txt", "2025550143\n2025550144\n"), writeFile(t, dir, "without.txt", "2025550144\n")}
	ebrFiles := []string{writeFile(t, dir, "with.csv", header+"2025550143,acme,purchase,2026-01-01\n"),
		writeFile(t, dir, "without.csv", header+"2025550144,acme,purchase,2026-01-01\n")}

	type answer struct {
		holds   bool
		version uint64
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	answers := []map[answer]int{{}, {}} // the list's, the exemptions': how often each was given
	lookups := []func() (answer, error){
		func() (answer, error) {
			on, version, err := s.Listed("ftc", number)
			return answer{on, version}, err
		},
		func() (answer, error) {
			records, version, err := s.Exemptions(number)
			for _, r := range records {
				if r.Version != version {
					return answer{}, fmt.Errorf("record %s of version %d cited as version %d", r.ID, r.Version, version)
				}
			}
			return answer{len(records) > 0, version}, err
		},
	}
	errs := make(chan error, len(lookups))
	for i, lookup := range lookups {
		wg.Go(func() {
			for !stop.Load() {
				a, err := lookup()
				if err != nil {
					errs <- err
					return
				}
				answers[i][a]++
			}
		})
	}
	holds := map[uint64]bool{} // version -> it holds the number
	for i := range 8 {
		holds[importFiles(t, s, "ftc", listFiles[i%2]).Version] = i%2 == 0
		holds[importSet(t, s, DataSetRequest{Kind: KindEBR, Files: []string{ebrFiles[i%2]}}).Version] = i%2 == 0
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, what := range []string{"Listed", "Exemptions"} {
		versions := 0
		for a, n := range answers[i] {
			want, known := holds[a.version]
			if a.version == 0 { // before the first import
				known = true
			} else {
				versions++
			}
			if !known || a.holds != want {
				t.Errorf("%s answered %v %d times citing version %d, which holds the number: %v (an import's: %v)", what, a.holds, n, a.version, want, known)
			}
		}
		t.Logf("%s: %v", what, answers[i])
		if versions < 2 {
			t.Errorf("%s: answers from %d versions; the test needs lookups during the switches", what, versions)
		}
	}
}

// Every encoding reads back exactly what was stored, in place and decoded,
// and the smallest one is chosen.
func TestExchangeEncodings(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(density float64) []uint16 {
		var l []uint16
		for line := range uint16(linesPerExchange) {
			if rng.Float64() < density {
				l = append(l, line)
			}
		}
		return l
	}
	cases := map[string]struct {
		lines []uint16
		tag   byte
	}{
		"one line":     {[]uint16{9999}, encodingEliasFano},
		"sparse":       {[]uint16{0, 143, 9999}, encodingEliasFano},
		"first lines":  {seq(0, 20), encodingRoaring},
		"full":         {seq(0, linesPerExchange), encodingRoaring},
		"blocks":       {append(seq(100, 900), seq(5000, 7500)...), encodingRoaring},
		"one percent":  {random(0.01), encodingEliasFano},
		"ten percent":  {random(0.10), encodingEliasFano},
		"twenty":       {random(0.20), encodingEliasFano},
		"thirty":       {random(0.30), encodingPlain},
		"sixty":        {random(0.60), encodingPlain},
		"all but some": {random(0.97), encodingRoaring}, // runs between the gaps
	}
	for name, c := range cases {
		var x exchangeLines
		want := map[uint16]bool{}
		for _, l := range c.lines {
			x.add(l)
			want[l] = true
		}
		value, err := x.encode()
		if err != nil {
			t.Fatal(err)
		}
		smallest := min(plainBitmapSize, eliasFanoSize(x.count()))
		rb := roaring.FromDense(x[:], true)
		rb.RunOptimize()
		smallest = min(smallest, int(rb.GetSerializedSizeInBytes()))
		if tag := value[len(value)-1]; tag != c.tag || len(value)-1 != smallest {
			t.Errorf("%s (%d lines): encoded as %q in %d bytes; want %q in %d", name, len(want), tag, len(value)-1, c.tag, smallest)
		}
		var back exchangeLines
		if err := decodeLines(value, &back); err != nil || back != x {
			t.Errorf("%s: decoded %d lines, %v; want %d", name, back.count(), err, x.count())
		}
		for line := range uint16(linesPerExchange) {
			if got, err := exchangeHas(value, line); err != nil || got != want[line] {
				t.Fatalf("%s: line %d: %v, %v; want %v", name, line, got, err, want[line])
			}
		}
	}
	for _, bad := range [][]byte{nil, {encodingPlain}, {0, 0, 0, encodingEliasFano}, {1, 2, 3, encodingRoaring}, {'?'}} {
		if _, err := exchangeHas(bad, 1); err == nil {
			t.Errorf("exchangeHas(%q) read a malformed value", bad)
		}
	}
}

func seq(from, to int) []uint16 {
	var s []uint16
	for i := from; i < to; i++ {
		s = append(s, uint16(i))
	}
	return s
}

// A lookup answered without Badger (an exchange read lately, an exchange
// no one lists, a change list, a live change) allocates nothing: the policy
// makes several per call.
func TestCachedLookupsDoNotAllocate(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	var text strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&text, "202555%04d\n", i*10) // dense: plain bitmap
	}
	text.WriteString("3035550143\n") // sparse: roaring
	importFiles(t, s, "ftc", writeFile(t, dir, "ftc.txt", text.String()))
	applyDelta(t, s, "ftc", dir, "d.txt", "4155550100,2026-11-20,A\n")
	live(t, s, LiveRequest{List: "ftc", Numbers: []string{"+16175550100"}})
	for _, c := range []struct {
		name, number string
		want         bool
	}{
		{"plain bitmap", "+12025550140", true},
		{"roaring bitmap", "+13035550144", false},
		{"no such exchange", "+19895550143", false},
		{"change list", "+14155550100", true},
		{"live change", "+16175550100", true},
	} {
		wantListed(t, s, "ftc", c.number, c.want) // fills the cache
		allocs := testing.AllocsPerRun(100, func() { s.Listed("ftc", c.number) })
		if allocs != 0 {
			t.Errorf("%s: %v allocations per lookup", c.name, allocs)
		}
	}
}

// BenchmarkListed measures the proxy's lookup: present and absent numbers,
// in an exchange stored in each encoding, from Badger and from the cache. The store is reopened so that lookups read tables,
// not the memtable.
func BenchmarkListed(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		b.Fatal(err)
	}
	var text strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&text, "202555%04d\n", i*5) // dense: a plain bitmap
	}
	for i := range 800 {
		fmt.Fprintf(&text, "202556%04d\n", i*12) // 8%: Elias-Fano
	}
	text.WriteString("3035550143\n") // sparse: roaring
	importFiles(b, s, "ftc", writeFile(b, dir, "ftc.txt", text.String()))
	s.Close()
	// Without a cache, every lookup reads Badger.
	s = openStoreWith(b, DefaultOptions(filepath.Join(dir, "data")).WithCacheSize(0))
	cases := []struct {
		name, number string
		want         bool
	}{
		{"present/plain", "+12025550140", true},
		{"absent/plain", "+12025550141", false},
		{"present/elias-fano", "+12025560144", true},
		{"absent/elias-fano", "+12025560145", false},
		{"present/roaring", "+13035550143", true},
		{"absent/roaring", "+13035550144", false},
		{"absent/exchange", "+14155550143", false},
	}
	for _, c := range cases {
		b.Run(c.name+"/badger", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got, _, err := s.Listed("ftc", c.number); got != c.want || err != nil {
					b.Fatalf("Listed(%s) = %v, %v", c.number, got, err)
				}
			}
		})
	}
	s.Close()
	s = openStore(b, filepath.Join(dir, "data"))
	for _, c := range cases {
		b.Run(c.name+"/cached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if got, _, err := s.Listed("ftc", c.number); got != c.want || err != nil {
					b.Fatalf("Listed(%s) = %v, %v", c.number, got, err)
				}
			}
		})
	}
}

// Warm reads every exchange into the cache, now and after later imports.
func TestWarm(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	importFiles(t, s, "ftc", writeFile(t, dir, "a.txt", "2025550143\n3035550100\n"))
	cached := func(list string, exchange uint32) bool {
		return s.catalog.Load().lists[list].cache.get(exchange) != nil
	}
	if cached("ftc", 202555) {
		t.Fatal("cached before any lookup or Warm")
	}
	if err := s.Warm(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !cached("ftc", 202555) || !cached("ftc", 303555) {
		t.Error("Warm left exchanges out")
	}
	importReq(t, s, ImportRequest{List: "ftc", Files: []string{writeFile(t, dir, "b.txt", "4155550100\n")}, Replace: true})
	if !cached("ftc", 415555) {
		t.Error("an import after Warm left its version cold")
	}
	wantListed(t, s, "ftc", "+14155550100", true)
}

// A crash between Badger's creating a memtable file and sizing it leaves an
// empty one (seen in the SIGKILL-mid-import test); the registry still opens.
func TestOpensWithAnEmptyMemtableFileLeftByACrash(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "00009.mem"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatalf("Open with an empty memtable file: %v", err)
	}
	s.Close()
}
