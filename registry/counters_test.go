package registry

import (
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestAttemptsCountWithinWindowAndSurviveReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(DefaultOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Truncate(time.Second)
	for _, at := range []time.Duration{0, time.Hour, 2 * time.Hour, 30 * time.Minute} { // the last one out of order
		if err := s.RecordAttempt("n/+13055550100", t0.Add(at), 24*time.Hour, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordAttempt("n/+13055550101", t0, 24*time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(DefaultOptions(dir)); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cases := []struct {
		name     string
		from, to time.Duration
		want     int
	}{
		{"n/+13055550100", -time.Hour, 3 * time.Hour, 4},
		{"n/+13055550100", 30 * time.Minute, 2 * time.Hour, 2}, // from is inclusive, to exclusive
		{"n/+13055550100", 3 * time.Hour, 4 * time.Hour, 0},
		{"n/+13055550101", -time.Hour, time.Hour, 1},
		{"n/+13055550199", -time.Hour, time.Hour, 0},
	}
	for _, tc := range cases {
		n, err := s.Attempts(tc.name, t0.Add(tc.from), t0.Add(tc.to))
		if err != nil || n != tc.want {
			t.Errorf("Attempts(%s, %v, %v) = %d, %v; want %d", tc.name, tc.from, tc.to, n, err, tc.want)
		}
	}
}

func TestRecordAttemptForgetsWhatIsOlderThanKeep(t *testing.T) {
	s, err := Open(DefaultOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Now()
	for _, at := range []time.Duration{0, 5 * time.Hour, 9 * time.Hour} {
		if err := s.RecordAttempt("k", t0.Add(at), 8*time.Hour, 0); err != nil {
			t.Fatal(err)
		}
	}
	// The record at 9h dropped the one at 0h (older than 8h before it); the
	// count over all time shows what is kept.
	if n, err := s.Attempts("k", time.Time{}, t0.Add(24*time.Hour)); err != nil || n != 2 {
		t.Errorf("kept %d, %v; want 2", n, err)
	}
	if err := s.RecordAttempt("k", t0, 0, 0); err == nil {
		t.Error("a zero keep period was accepted")
	}
}

func TestConcurrentRecordsAreAllCounted(t *testing.T) {
	s, err := Open(DefaultOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if err := s.RecordAttempt("busy", t0.Add(time.Duration(i)*time.Millisecond), time.Hour, 0); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n, err := s.Attempts("busy", t0, t0.Add(time.Second)); err != nil || n != 50 {
		t.Errorf("counted %d, %v; want 50", n, err)
	}
}

func TestCountersSurviveListImportsAndCleanup(t *testing.T) {
	// Open removes data no list points at; counters are not list data.
	dir := t.TempDir()
	s, err := Open(DefaultOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAttempt("n/+12025550143", time.Now(), time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	s.writeMu.Lock()
	err = s.removeStaleVersions()
	s.writeMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Attempts("n/+12025550143", time.Now().Add(-time.Hour), time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("after cleanup: %d, %v; want 1", n, err)
	}
	s.Close()
}

func TestAttemptsKeepOnlyTheLatestMost(t *testing.T) {
	s, err := Open(DefaultOptions(filepath.Join(t.TempDir(), "data")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Now().Truncate(time.Second)
	for i := range 10 {
		if err := s.RecordAttempt("n/+13055550100", t0.Add(time.Duration(i)*time.Minute), 24*time.Hour, 3); err != nil {
			t.Fatal(err)
		}
	}
	// A cap of 3 still holds: the count within any window reaches 3 but goes no higher.
	if n, err := s.Attempts("n/+13055550100", t0.Add(-time.Hour), t0.Add(time.Hour)); err != nil || n != 3 {
		t.Fatalf("kept %d attempts, %v; want the latest 3", n, err)
	}
	if n, _ := s.Attempts("n/+13055550100", t0.Add(7*time.Minute), t0.Add(time.Hour)); n != 3 {
		t.Fatalf("the latest 3 are minutes 7-9, counted %d", n)
	}
}
