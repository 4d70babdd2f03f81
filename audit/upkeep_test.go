package audit

import (
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitFor polls until cond holds, for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %s", what)
		}
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	files, err := logFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		out = append(out, f.name())
	}
	return out
}

// onlyNewestPlain reports whether every file but the newest is compressed.
func onlyNewestPlain(t *testing.T, dir string) func() bool {
	return func() bool {
		files, _ := logFiles(dir)
		for _, f := range files[:max(len(files)-1, 0)] {
			if !f.gz {
				return false
			}
		}
		return true
	}
}

func TestRotatesBySizeAndCompresses(t *testing.T) {
	dir := t.TempDir()
	signer, verifier := testKey(t)
	opts := Options{Signer: signer, MaxFileSize: 8 << 10}
	l, logs := open(t, dir, opts)
	const n = 40 // ≈ 1 KB each: five parts of the day
	for i := range n {
		r := fullRecord(i)
		r.CallID = "call-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if i < n-1 {
			l.Append(r)
		} else if err := l.AppendSync(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "complete files compressed", onlyNewestPlain(t, dir))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Today's file, opened at start and left empty when the first record
	// went to 2031's, is removed, not compressed nor indexed.
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("upkeep reported errors:\n%s", logs)
	}
	got := names(t, dir)
	want := []string{"decisions-2031-01-02.jsonl.gz", "decisions-2031-01-02.1.jsonl.gz", "decisions-2031-01-02.2.jsonl.gz",
		"decisions-2031-01-02.3.jsonl.gz", "decisions-2031-01-02.4.jsonl"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files %v, want %v", got, want)
	}
	for _, name := range got[:len(got)-1] {
		info, _ := os.Stat(filepath.Join(dir, name))
		if info.Size() > 8<<10/2 {
			t.Errorf("%s: %d bytes compressed, from about 8 KB", name, info.Size())
		}
		if _, err := os.Stat(filepath.Join(dir, strings.TrimSuffix(name, ".gz"))); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: the plain file is still there: %v", name, err)
		}
	}
	check := func(records, redacted int) {
		t.Helper()
		r, err := Verify(dir, VerifyOptions{Verifier: verifier})
		if err != nil || r.Records != records || r.Redacted != redacted || r.Checkpoints == 0 {
			t.Fatalf("Verify = %+v, %v; want %d records, %d redacted, checkpoints", r, err, records, redacted)
		}
	}
	check(n, 0)

	// Evidence and redaction read and rewrite the compressed files.
	b, err := Evidence(dir, EvidenceQuery{CallID: "call-ba"}, verifier) // record 2, in the first file
	if err != nil || len(b.Records) != 1 {
		t.Fatalf("evidence from a compressed file: %v", err)
	}
	if _, err := VerifyEvidence(mustJSON(t, b), verifier); err != nil {
		t.Fatal(err)
	}
	if err := Redact(dir, 2, "court order"); err != nil {
		t.Fatal(err)
	}
	z, err := os.Open(filepath.Join(dir, got[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if _, err := gzip.NewReader(z); err != nil {
		t.Errorf("the redacted file is no longer compressed: %v", err)
	}
	check(n, 1)

	// A restart on the same day goes on in the last part; a restart after
	// its file was compressed starts the next part.
	appendClose(t, dir, n, n+2)
	check(n+2, 1)
	if err := compressFile(context.Background(), dir, logFile{day: 20310102, part: 4}, newPacer(0.5)); err != nil {
		t.Fatal(err)
	}
	appendClose(t, dir, n+2, n+3)
	if got := names(t, dir); got[len(got)-1] != "decisions-2031-01-02.5.jsonl" {
		t.Errorf("after a restart the files are %v; want a part 5", got)
	}
	check(n+3, 1)
}

func mustJSON(t *testing.T, b *Bundle) []byte {
	t.Helper()
	data, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// oldFile writes records stamped at times into a file of the day of the
// first: the writer always starts in today's file, which is then renamed.
func oldFile(t *testing.T, dir string, times ...time.Time) {
	t.Helper()
	l, _ := open(t, dir, Options{Retain: -1})
	for _, at := range times {
		r := fullRecord(0)
		r.Time = at
		l.Append(r)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	today := logFile{day: dayOf(time.Now())}.path(dir)
	if err := os.Rename(today, logFile{day: dayOf(times[0])}.path(dir)); err != nil {
		t.Fatal(err)
	}
}

func TestRetentionDeletesOnlyFilesWhollyPastIt(t *testing.T) {
	dir := t.TempDir()
	oldFile(t, dir, time.Date(2020, 1, 1, 12, 0, 0, 0, time.UTC))
	oldFile(t, dir, time.Date(2020, 1, 2, 3, 0, 0, 0, time.UTC), time.Date(2020, 1, 2, 12, 0, 0, 0, time.UTC))
	// Cut off at 2020-01-02 06:00: the first file is wholly past it, the
	// second holds a record after it.
	l, logs := open(t, dir, Options{Retain: time.Since(time.Date(2020, 1, 2, 6, 0, 0, 0, time.UTC))})
	defer l.Close()
	waitFor(t, "the oldest file deleted", func() bool { return len(names(t, dir)) == 2 })
	time.Sleep(50 * time.Millisecond) // and nothing more
	if got := names(t, dir); !strings.HasPrefix(got[0], "decisions-2020-01-02.jsonl") {
		t.Errorf("files %v; want the one of 2020-01-02 kept", got)
	}
	if !strings.Contains(logs.String(), "deleted a file past the retention period") || !strings.Contains(logs.String(), "decisions-2020-01-01.jsonl") {
		t.Errorf("the deletion is not logged:\n%s", logs)
	}
	if r, err := Verify(dir, VerifyOptions{}); err != nil || r.Records != 2 {
		t.Errorf("Verify after retention = %d, %v; want 2 records", r.Records, err)
	}
}

func TestAppendSyncReturnsOnceOnDisk(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{FlushInterval: time.Hour})
	defer l.Close()
	if err := l.AppendSync(context.Background(), fullRecord(0)); err != nil {
		t.Fatal(err)
	}
	if got := len(readLines(t, recordFile(dir))); got != 1 {
		t.Fatalf("%d lines on disk when AppendSync returned, want 1", got)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() { errs <- l.AppendSync(context.Background(), fullRecord(i)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(readLines(t, recordFile(dir))); got != 51 {
		t.Fatalf("%d lines on disk, want 51", got)
	}
	if err := l.Health(); err != nil {
		t.Errorf("Health = %v", err)
	}
}

// A disk that refuses writes: AppendSync says so at once, Health too, and
// Health clears once the disk takes writes again.
func TestFailingDiskIsHealthError(t *testing.T) {
	dir := t.TempDir()
	path := logFile{day: dayOf(time.Now())}.path(dir)
	if err := os.Symlink("/dev/full", path); err != nil {
		t.Fatal(err)
	}
	l, _ := open(t, dir, Options{FlushInterval: time.Millisecond})
	r := fullRecord(0)
	r.Time = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.AppendSync(ctx, r); !errors.Is(err, ErrNotWriting) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("AppendSync on a full disk = %v; want ErrNotWriting, ENOSPC", err)
	}
	if err := l.Health(); !errors.Is(err, ErrNotWriting) {
		t.Errorf("Health = %v; want ErrNotWriting", err)
	}
	if err := l.Close(); err == nil {
		t.Error("Close lost a record and said nothing")
	}
}

// A writer blocked on a pipe nobody reads: the queue fills past half.
func TestBacklogIsHealthError(t *testing.T) {
	dir := t.TempDir()
	reader := stalledDisk(t, dir)
	l, _ := open(t, dir, Options{QueueSize: 64, FlushInterval: time.Millisecond})
	r := fullRecord(0)
	r.Time = time.Now()
	for range 3000 { // ≈ 3 MB: more than the pipe and maxPending hold
		l.Append(r)
	}
	if err := l.Health(); !errors.Is(err, ErrBacklog) {
		t.Errorf("Health = %v; want ErrBacklog", err)
	}
	unblock(t, reader)
	go func() {
		buf := make([]byte, 1<<16)
		for {
			if _, err := reader.Read(buf); err != nil {
				return
			}
		}
	}()
	// (A pipe takes no fsync: the log then reports ErrNotWriting.)
	waitFor(t, "the writer caught up", func() bool { return !errors.Is(l.Health(), ErrBacklog) })
	l.Close()
}

// A pacer at a quarter of a core sleeps three times the work it saw, in
// slices of at least minSleep.
func TestPacerKeepsToItsShare(t *testing.T) {
	clock := time.Date(2031, 1, 2, 0, 0, 0, 0, time.UTC)
	var slept []time.Duration
	p := newPacer(0.25)
	p.now = func() time.Time { return clock }
	p.sleep = func(d time.Duration) { slept = append(slept, d) }
	for range 10 {
		p.wait()
		clock = clock.Add(time.Millisecond) // a millisecond of work per step
	}
	p.wait()
	var total time.Duration
	for _, d := range slept {
		if d < minSleep {
			t.Errorf("slept %v, less than %v", d, minSleep)
		}
		total += d
	}
	if total < 27*time.Millisecond || total > 30*time.Millisecond {
		t.Errorf("slept %v in all after 10 ms of work; want 3x, less what is still owed (< %v)", total, minSleep)
	}
	var none *pacer
	none.wait() // no pacer: no pause, no panic
}
