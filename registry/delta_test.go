package registry

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func applyDelta(t testing.TB, s *Store, list, dir, name, text string) ListInfo {
	t.Helper()
	return importReq(t, s, ImportRequest{List: list, Delta: true, Files: []string{writeFile(t, dir, name, text)}})
}

// A change list deletes and adds in one step; a later one re-adds what an
// earlier one deleted; counts stay exact; the same number twice in one file
// takes its latest date.
func TestDeltaDeletesAndReAdds(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	base := importFiles(t, s, "ftc", writeFile(t, dir, "full.txt", "2025550143\n2025550144\n3035550100\n+442079460958\n"))

	d1 := applyDelta(t, s, "ftc", dir, "d1.txt",
		"2025550143,2026-11-20,D\n2025550199,2026-11-20,A\n2025550144,2026-11-20,A\n"+ // 0144 is listed already
			"2025550150,2026-11-21,D\n2025550150,2026-11-20,A\n"+ // later date wins, whatever the order
			"+442079460958,2026-11-20,D\n4155550100,2026-11-20,D\n") // 4155550100 was never listed
	if d1.Count != 3 || d1.Added != 1 || d1.Removed != 2 || !d1.Delta || d1.Base != base.Version || !slices.Equal(d1.Deltas, []uint64{d1.Version}) {
		t.Fatalf("after d1: %+v", d1)
	}
	for n, want := range map[string]bool{"+12025550143": false, "+12025550144": true, "+12025550199": true, "+12025550150": false, "+442079460958": false, "+13035550100": true} {
		wantListed(t, s, "ftc", n, want)
	}

	d2 := applyDelta(t, s, "ftc", dir, "d2.txt", "A,2025550143,2026-11-22\nD,2025550199,2026-11-22\nA,+442079460958,2026-11-22\n")
	if d2.Count != 4 || d2.Added != 2 || d2.Removed != 1 || !slices.Equal(d2.Deltas, []uint64{d1.Version, d2.Version}) {
		t.Fatalf("after d2: %+v", d2)
	}
	for n, want := range map[string]bool{"+12025550143": true, "+12025550199": false, "+442079460958": true} {
		wantListed(t, s, "ftc", n, want)
	}
	if got, _ := s.Lookup("+12025550143"); !slices.Equal(got.Listings, []Listing{{List: "ftc", Version: d2.Version}}) {
		t.Errorf("lookup cites %+v; want the change list's version", got.Listings)
	}

	// The layers survive a restart.
	s.Close()
	s = openStore(t, filepath.Join(dir, "data"))
	for n, want := range map[string]bool{"+12025550143": true, "+12025550199": false, "+12025550144": true, "+442079460958": true, "+12025550150": false} {
		wantListed(t, s, "ftc", n, want)
	}
	// A full import replaces base and change lists alike.
	full := importReq(t, s, ImportRequest{List: "ftc", Files: []string{writeFile(t, dir, "full2.txt", "2025550199\n")}, Replace: true})
	wantListed(t, s, "ftc", "+12025550143", false)
	wantListed(t, s, "ftc", "+12025550199", true)
	if v := dataVersions(t, s); !slices.Equal(v, []uint64{full.Version}) {
		t.Errorf("data after a full import: %v; want only %d", v, full.Version)
	}
}

func TestDeltaOnANewListAndPlainFilesAsAdditions(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	info := applyDelta(t, s, "state-tx", dir, "adds.txt", "2145550100\n2145550101\n")
	if info.Count != 2 || info.Base != 0 || info.Added != 2 {
		t.Fatalf("%+v", info)
	}
	wantListed(t, s, "state-tx", "+12145550101", true)
	info = applyDelta(t, s, "state-tx", dir, "c.txt", "2145550100,2026-11-20,D\n")
	if info.Count != 1 {
		t.Fatalf("%+v", info)
	}
	wantListed(t, s, "state-tx", "+12145550100", false)
}

// Once change lists pile up, they are folded into a new full version: the
// answers, the version and the count stay, the old data goes.
func TestChangeListsAreFolded(t *testing.T) {
	dir := t.TempDir()
	s := openStoreWith(t, DefaultOptions(filepath.Join(dir, "data")).WithFoldDeltas(2))
	var full strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&full, "%d\n", 2025550000+i*3) // exchanges 202555..202555+
	}
	full.WriteString("3035550100\n+442079460958\n")
	base := importFiles(t, s, "ftc", writeFile(t, dir, "full.txt", full.String()))
	applyDelta(t, s, "ftc", dir, "d1.txt", "2025550000,2026-11-20,D\n9895550000,2026-11-20,A\n3035550100,2026-11-20,D\n")
	applyDelta(t, s, "ftc", dir, "d2.txt", "2025550001,2026-11-21,A\n+33142685300,2026-11-21,A\n+442079460958,2026-11-21,D\n")
	if lists, _ := s.Lists(); len(lists[0].Deltas) != 2 || len(dataVersions(t, s)) != 3 {
		t.Fatalf("before folding: %+v, data %v", lists[0], dataVersions(t, s))
	}
	last := applyDelta(t, s, "ftc", dir, "d3.txt", "2025550003,2026-11-22,D\n2025550001,2026-11-22,D\n")

	data := dataVersions(t, s)
	if len(data) != 1 || data[0] <= last.Version {
		t.Fatalf("after folding, data under %v; want one new storage id", data)
	}
	lists, _ := s.Lists()
	if got := lists[0]; got.Version != last.Version || got.Count != last.Count || got.Count != 3000 || got.Base != base.Version || len(got.Deltas) != 3 {
		t.Errorf("after folding: %+v", got)
	}
	for n, want := range map[string]bool{
		"+12025550000": false, "+12025550001": false, "+12025550003": false, "+12025550006": true, "+12025558997": true,
		"+19895550000": true, "+13035550100": false, "+33142685300": true, "+442079460958": false, "+12025550002": false,
	} {
		wantListed(t, s, "ftc", n, want)
	}
	s.Close()
	s = openStore(t, filepath.Join(dir, "data"))
	wantListed(t, s, "ftc", "+19895550000", true)
	wantListed(t, s, "ftc", "+12025550006", true)
}

// Lookups keep answering from complete versions while change lists apply:
// each change list flips two numbers at once, so they never agree.
func TestLookupsDuringChangeLists(t *testing.T) {
	dir := t.TempDir()
	s := openStoreWith(t, DefaultOptions(filepath.Join(dir, "data")).WithFoldDeltas(3)) // folds happen during the test too
	importFiles(t, s, "ftc", writeFile(t, dir, "full.txt", "2025550000\n2025550002\n"))
	flip := []string{
		writeFile(t, dir, "del.txt", "2025550002,2026-11-20,D\n2025550003,2026-11-20,A\n"),
		writeFile(t, dir, "add.txt", "2025550002,2026-11-21,A\n2025550003,2026-11-21,D\n"),
	}
	var stop atomic.Bool
	var wrong atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				cat := s.catalog.Load() // both from one published state
				a, err1 := s.holds(cat, cat.lists["ftc"], parseNum("+12025550002"))
				b, err2 := s.holds(cat, cat.lists["ftc"], parseNum("+12025550003"))
				if (err1 != nil && err1 != errMoved) || (err2 != nil && err2 != errMoved) || (err1 == nil && err2 == nil && a == b) {
					wrong.Add(1)
				}
				if ok, _, err := s.Listed("ftc", "+12025550000"); !ok || err != nil {
					wrong.Add(1)
				}
			}
		})
	}
	for i := range 8 {
		if _, err := s.Import(context.Background(), ImportRequest{List: "ftc", Delta: true, Files: []string{flip[i%2]}}); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if wrong.Load() != 0 {
		t.Fatalf("%d wrong answers during change lists", wrong.Load())
	}
	wantListed(t, s, "ftc", "+12025550002", true)
	wantListed(t, s, "ftc", "+12025550003", false)
}
