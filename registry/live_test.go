package registry

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func live(t testing.TB, s *Store, req LiveRequest) []Change {
	t.Helper()
	if req.By == "" {
		req.By, req.Via = "alice", "cli"
	}
	changes, err := s.ChangeLive(req)
	if err != nil {
		t.Fatal(err)
	}
	return changes
}

func outcomes(changes []Change) string {
	var out []string
	for _, c := range changes {
		out = append(out, c.Number+" "+c.Action+": "+c.Outcome)
	}
	return strings.Join(out, "; ")
}

func TestLiveAddAndRemove(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	got := live(t, s, LiveRequest{List: "internal", Numbers: []string{"+12025550143", "+442079460958"}, Reason: "asked on the call"})
	if outcomes(got) != "+12025550143 add: listed; +442079460958 add: listed" || got[0].By != "alice" || got[0].Reason != "asked on the call" {
		t.Fatalf("add: %+v", got)
	}
	wantListed(t, s, "internal", "+12025550143", true)
	wantListed(t, s, "internal", "+442079460958", true)
	if _, _, ok := s.ListDate("internal"); ok || !hasList(s, "internal") {
		t.Error("a list of live changes only has no import date, but exists")
	}
	lists, _ := s.Lists()
	if len(lists) != 1 || lists[0].Live != (LiveCounts{Added: 2}) || lists[0].Version != 0 {
		t.Errorf("lists %+v", lists)
	}

	got = live(t, s, LiveRequest{List: "internal", Numbers: []string{"+12025550143", "+13035550100"}, Remove: true, By: "bob", Via: "admin socket (uid 0, pid 1)"})
	if outcomes(got) != "+12025550143 remove: unlisted; +13035550100 remove: was not listed" {
		t.Fatalf("remove: %s", outcomes(got))
	}
	wantListed(t, s, "internal", "+12025550143", false)

	// Everything is remembered, per number, across restarts.
	s.Close()
	s = openStore(t, filepath.Join(dir, "data"))
	wantListed(t, s, "internal", "+442079460958", true)
	wantListed(t, s, "internal", "+12025550143", false)
	r, err := s.Lookup("+12025550143")
	if err != nil || len(r.Listings) != 0 || len(r.Live) != 0 || len(r.History) != 2 ||
		r.History[0].Action != "add" || r.History[1].By != "bob" || r.History[1].Via != "admin socket (uid 0, pid 1)" {
		t.Errorf("lookup %+v, %v", r, err)
	}
	r, _ = s.Lookup("+442079460958")
	if len(r.Live) != 1 || r.Live[0].Action != "add" || r.Live[0].Reason != "asked on the call" || len(r.Listings) != 1 {
		t.Errorf("lookup of a live addition: %+v", r)
	}
}

// The largest request allowed fits one transaction.
func TestLargestLiveRequest(t *testing.T) {
	s := openStore(t, t.TempDir())
	numbers := make([]string, maxLiveNumbers)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+1202555%04d", i)
	}
	long := strings.Repeat("r", 200)
	got := live(t, s, LiveRequest{List: "internal", Numbers: numbers, Reason: long, By: strings.Repeat("b", 64), Via: strings.Repeat("v", 64)})
	if len(got) != maxLiveNumbers {
		t.Fatalf("%d changes", len(got))
	}
	wantListed(t, s, "internal", "+12025550999", true)
}

func TestLiveRequestsAreChecked(t *testing.T) {
	s := openStore(t, t.TempDir())
	for _, req := range []LiveRequest{
		{List: "internal", Numbers: []string{"2025550143"}, By: "a", Via: "cli"},
		{List: "internal", Numbers: []string{"+1202555014"}, By: "a", Via: "cli"},
		{List: "internal", By: "a", Via: "cli"},
		{List: "internal", Numbers: []string{"+12025550143"}},
		{List: "a/b", Numbers: []string{"+12025550143"}, By: "a", Via: "cli"},
		{List: "internal", Numbers: make([]string, maxLiveNumbers+1), By: "a", Via: "cli"},
	} {
		if _, err := s.ChangeLive(req); err == nil {
			t.Errorf("ChangeLive(%+v) succeeded", req)
		}
	}
	if hasList(s, "internal") {
		t.Error("a refused request created the list")
	}
}

// An import keeps the live changes made before it; a live removal ends when
// data as of a later day lists the number again.
func TestLiveChangesAndImports(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	importFiles(t, s, "internal", writeFile(t, dir, "a.txt", "2025550143\n2025550144\n"))
	live(t, s, LiveRequest{List: "internal", Numbers: []string{"+12025550199"}})
	if got := live(t, s, LiveRequest{List: "internal", Numbers: []string{"+12025550143"}, Remove: true}); outcomes(got) != "+12025550143 remove: unlisted" {
		t.Fatal(outcomes(got))
	}
	if got := live(t, s, LiveRequest{List: "internal", Numbers: []string{"+12025550144"}}); outcomes(got) != "+12025550144 add: already listed" {
		t.Fatal(outcomes(got))
	}
	// A newer export that still lists 0143 but lacks 0144 and 0199, as of today:
	// the removal (made today) and both additions stay.
	today := time.Now().UTC().Format(time.DateOnly)
	crm := writeFile(t, dir, "crm.txt", "2025550143\n2025550100\n")
	importReq(t, s, ImportRequest{List: "internal", Files: []string{crm}, SourceDate: today, Replace: true})
	for n, want := range map[string]bool{"+12025550143": false, "+12025550144": true, "+12025550199": true, "+12025550100": true} {
		wantListed(t, s, "internal", n, want)
	}
	// Data as of tomorrow lists 0143 again: the newer source wins over the removal.
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	info := importReq(t, s, ImportRequest{List: "internal", Files: []string{crm}, SourceDate: tomorrow})
	wantListed(t, s, "internal", "+12025550143", true)
	wantListed(t, s, "internal", "+12025550199", true) // additions never expire
	if info.Live != (LiveCounts{Added: 2}) {
		t.Errorf("live after the newer import: %+v", info.Live)
	}
	r, _ := s.Lookup("+12025550143")
	if last := r.History[len(r.History)-1]; last.Action != "expire" || last.Via != "import "+itoa(info.Version) || !strings.Contains(last.Reason, "as of "+tomorrow) {
		t.Errorf("expiry record %+v", last)
	}
	// A change list counts the same way.
	live(t, s, LiveRequest{List: "internal", Numbers: []string{"+12025550100"}, Remove: true})
	applyDelta(t, s, "internal", dir, "d.txt", "2025550100,"+tomorrow+",A\n") // listed already: no change, yet newer
	wantListed(t, s, "internal", "+12025550100", true)
}

// A live change made while an import runs is in force after it, though the
// import's files never held it.
func TestLiveChangeDuringAnImportIsKept(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "data"))
	file := writeFile(t, dir, "a.txt", "2025550143\n")
	done := false
	_, err := s.Import(context.Background(), ImportRequest{List: "internal", Files: []string{file}, Progress: func(p Progress) {
		if p.Phase == "write" && !done {
			done = true
			live(t, s, LiveRequest{List: "internal", Numbers: []string{"+13035550100"}})
		}
	}})
	if err != nil || !done {
		t.Fatalf("import: %v (live change made: %v)", err, done)
	}
	wantListed(t, s, "internal", "+13035550100", true)
	wantListed(t, s, "internal", "+12025550143", true)
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
