package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// logBuffer collects what the Log reports through its logger.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func open(t testing.TB, dir string, opts Options) (*Log, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l, logs
}

// appendClose writes records numbered from..to-1 in a fresh Log.
func appendClose(t *testing.T, dir string, from, to int) {
	t.Helper()
	l, _ := open(t, dir, Options{})
	for i := from; i < to; i++ {
		l.Append(fullRecord(i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// readRecords decodes every line of a file; a line that is not a record fails the test.
func readRecords(t *testing.T, path string) []Record {
	t.Helper()
	var out []Record
	for i, line := range readLines(t, path) {
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		out = append(out, r)
	}
	return out
}

// readLines reads a file of the log, compressed by now or not.
func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	f, ok := parseLogFile(filepath.Base(path))
	if !ok {
		t.Fatalf("%s is not a file of the log", path)
	}
	data, err := readLogFile(filepath.Dir(path), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", path)
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
}

// The one file the records of fullRecord go to.
func recordFile(dir string) string { return filepath.Join(dir, "decisions-2031-01-02.jsonl") }

func TestRecordsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{Version: "build-7"})
	appended := []Record{fullRecord(0), fullRecord(1), fullRecord(2)}
	appended[2].Version = "" // the Log stamps its own build
	for _, r := range appended {
		l.Append(r)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, recordFile(dir))
	got := readRecords(t, recordFile(dir))
	if len(got) != 3 {
		t.Fatalf("%d records, want 3", len(got))
	}
	for i, r := range got {
		want := appended[i]
		want.Seq, want.Kind, want.Salt, want.Hash = uint64(i+1), KindDecision, r.Salt, r.Hash
		if len(r.Salt) != 32 || r.Salt == got[(i+1)%3].Salt {
			t.Errorf("record %d: salt %q is not 16 bytes of its own", i, r.Salt)
		}
		if want.Version == "" {
			want.Version = "build-7"
		}
		if !r.Time.Equal(want.Time) {
			t.Errorf("record %d: time %v, want %v", i, r.Time, want.Time)
		}
		r.Time, want.Time = time.Time{}, time.Time{}
		want.Error = "registry: read \ufffd\ufffd" // invalid UTF-8 is replaced, as encoding/json does
		if !reflect.DeepEqual(r, want) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, r, want)
		}
		if len(r.Hash) != 64 {
			t.Errorf("record %d: hash %q", i, r.Hash)
		}
		// What a reader marshals again is the line as stored, byte for byte.
		r.Time = fullRecord(i).Time
		if b, _ := r.MarshalJSON(); !bytes.Equal(b, lines[i]) {
			t.Errorf("record %d re-encodes as\n%s\nstored\n%s", i, b, lines[i])
		}
	}
	info, err := os.Stat(recordFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm&^0o640 != 0 {
		t.Errorf("file mode %v, want at most 0640", perm)
	}
}

func TestCloseFlushesEverythingQueued(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{FlushInterval: time.Hour, QueueSize: 20000})
	const n = 20000
	for i := range n {
		l.Append(fullRecord(i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.Dropped() != 0 {
		t.Fatalf("%d dropped", l.Dropped())
	}
	if got := len(readLines(t, recordFile(dir))); got != n {
		t.Fatalf("%d lines after Close, want %d", got, n)
	}
	if got, err := Verify(dir, VerifyOptions{}); err != nil || got.Records != n {
		t.Fatalf("Verify = %d, %v; want %d records", got.Records, err, n)
	}
}

// The queue costs memory for the records in it, not for its capacity: at
// 1,000 calls/s its 65,536 slots of ≈ 560-byte records were all written
// within a minute, 35 MB of live heap (and twice that of RSS under the
// collector's target) held for good by an idle queue.
func TestAnEmptyQueueHoldsNoRecordsMemory(t *testing.T) {
	dir := t.TempDir()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l, _ := open(t, dir, Options{}) // the default QueueSize, 65,536
	runtime.ReadMemStats(&after)
	defer l.Close()
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 8<<20 {
		t.Fatalf("Open allocated %d MB; an empty queue should cost next to nothing", grown>>20)
	}
}

func TestFlushInterval(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{FlushInterval: 20 * time.Millisecond})
	defer l.Close()
	l.Append(fullRecord(0))
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if data, _ := os.ReadFile(recordFile(dir)); bytes.Count(data, []byte("\n")) == 1 {
			return
		}
	}
	t.Fatal("the record was not written within 5 s of a 20 ms flush interval")
}

func TestReopenContinuesSeq(t *testing.T) {
	dir := t.TempDir()
	appendClose(t, dir, 0, 3)
	appendClose(t, dir, 3, 5)
	got := readRecords(t, recordFile(dir))
	if len(got) != 5 {
		t.Fatalf("%d records, want 5", len(got))
	}
	if got[3].Seq != 4 || got[3].Prev != "" {
		t.Errorf("after reopen: seq %d prev %q; want 4 and none", got[3].Seq, got[3].Prev)
	}
	if r, err := Verify(dir, VerifyOptions{}); err != nil || r.Records != 5 {
		t.Fatalf("Verify = %d, %v", r.Records, err)
	}
}

func TestRotatesByRecordDayNeverBack(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{})
	at := func(day, hour int) Record {
		r := fullRecord(0)
		r.Time = time.Date(2031, 3, day, hour, 0, 0, 0, time.FixedZone("EST", -5*3600))
		return r
	}
	l.Append(at(1, 12))
	l.Append(at(1, 20)) // 01:00 UTC on the 2nd
	l.Append(at(1, 18)) // 23:00 UTC on the 1st, written after a record of the 2nd
	l.Append(at(3, 12))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"decisions-2031-03-01.jsonl": 1, "decisions-2031-03-02.jsonl": 2, "decisions-2031-03-03.jsonl": 1} {
		if got := len(readLines(t, filepath.Join(dir, name))); got != want {
			t.Errorf("%s: %d lines, want %d", name, got, want)
		}
	}
	if r, err := Verify(dir, VerifyOptions{}); err != nil || r.Records != 4 {
		t.Fatalf("Verify = %d, %v", r.Records, err)
	}
	// A restart goes on in the newest file even if the clock says otherwise.
	l, _ = open(t, dir, Options{})
	l.Append(at(1, 12))
	l.Close()
	if got := len(readLines(t, filepath.Join(dir, "decisions-2031-03-03.jsonl"))); got != 2 {
		t.Errorf("after restart the newest file has %d lines, want 2", got)
	}
}

// A crash in the middle of a write leaves a line without its end.
func TestTruncatedLastLineIsSealed(t *testing.T) {
	for name, tc := range map[string]struct {
		cut      func(data []byte) []byte
		kept     int // complete records left by the crash
		logsLine bool
	}{
		"half a record":    {cut: func(d []byte) []byte { return d[:len(d)-100] }, kept: 4, logsLine: true},
		"only the newline": {cut: func(d []byte) []byte { return d[:len(d)-1] }, kept: 5},
		// Some file systems leave zeros where data was lost; more than one read block of them.
		"zeros": {cut: func(d []byte) []byte { return append(d[:len(d)-10], make([]byte, 200<<10)...) }, kept: 4, logsLine: true},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			appendClose(t, dir, 0, 5)
			path := recordFile(dir)
			data, _ := os.ReadFile(path)
			cut := tc.cut(data)
			if err := os.WriteFile(path, cut, 0o640); err != nil {
				t.Fatal(err)
			}
			// The tree's file is written after the records are on disk: a
			// crash never leaves it holding a record that was cut.
			if err := os.Truncate(filepath.Join(dir, treeFileName), tlog.StoredHashCount(int64(tc.kept))*tlog.HashSize); err != nil {
				t.Fatal(err)
			}
			// An auditor may verify before the gatekeeper restarts.
			if r, err := Verify(dir, VerifyOptions{}); err != nil || r.Records != tc.kept {
				t.Fatalf("Verify of the crashed log = %d, %v; want %d records", r.Records, err, tc.kept)
			}

			l, logs := open(t, dir, Options{})
			l.Append(fullRecord(9))
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(path)
			if !bytes.HasPrefix(after, cut) {
				t.Fatal("bytes written before the crash were changed")
			}
			if tc.logsLine && !strings.Contains(logs.String(), "file="+path+" line=5 ") {
				t.Errorf("the broken line is not reported as %s line 5:\n%s", path, logs)
			}
			// The start's recovery record, then the new one.
			r, err := Verify(dir, VerifyOptions{})
			if err != nil || r.Records != tc.kept+2 {
				t.Fatalf("Verify = %d, %v; want %d records", r.Records, err, tc.kept+2)
			}
			lines := bytes.Split(bytes.TrimSuffix(after, []byte("\n")), []byte("\n"))
			var recovery struct {
				Seq  uint64 `json:"seq"`
				Kind string `json:"kind"`
				Recovery
			}
			if err := json.Unmarshal(lines[len(lines)-2], &recovery); err != nil {
				t.Fatal(err)
			}
			want := Recovery{File: filepath.Base(path), Line: 5, Bytes: len(cut) - bytes.LastIndexByte(cut, '\n') - 1, Repair: RepairSealed}
			if !tc.logsLine {
				want.Repair = RepairNewline
			}
			if recovery.Kind != KindRecovery || recovery.Seq != uint64(tc.kept+1) || recovery.Recovery != want {
				t.Errorf("recovery record %s; want seq %d with %+v", lines[len(lines)-2], tc.kept+1, want)
			}
			var last Record
			if err := json.Unmarshal(lines[len(lines)-1], &last); err != nil {
				t.Fatal(err)
			}
			if last.Seq != uint64(tc.kept+2) {
				t.Errorf("the record after the crash has seq %d, want %d", last.Seq, tc.kept+2)
			}
		})
	}
}

// stalledDisk makes today's file a named pipe nobody reads yet: a disk that
// stopped taking writes. Its reader, in blocking mode, lets the writer go on.
// It skips the test where named pipes cannot be made.
func stalledDisk(t *testing.T, dir string) (reader *os.File) {
	t.Helper()
	pipe := logFile{day: dayOf(time.Now())}.path(dir)
	if err := syscall.Mkfifo(pipe, 0o640); err != nil {
		t.Skip("no named pipes here:", err)
	}
	reader, err := os.OpenFile(pipe, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	return reader
}

// unblock turns stalledDisk's reader to blocking reads.
func unblock(t *testing.T, reader *os.File) {
	t.Helper()
	if err := syscall.SetNonblock(int(reader.Fd()), false); err != nil {
		t.Fatal(err)
	}
}

// A day file that is a pipe nobody reads stands in for a disk that stopped
// taking writes: the writer blocks, the queue fills, and Append must still
// return at once, counting what it drops.
func TestAppendNeverBlocksWhenQueueFull(t *testing.T) {
	dir := t.TempDir()
	reader := stalledDisk(t, dir)
	l, logs := open(t, dir, Options{QueueSize: 64, FlushInterval: time.Millisecond})

	// Older records than today's keep every record in the pipe's file.
	r := fullRecord(0)
	r.Time = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 50000 // ≈ 25 MB: more than the pipe, maxPending and the queue hold
	start := time.Now()
	for range n {
		l.Append(r)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("%d appends took %v while the writer was blocked", n, took)
	}
	dropped := l.Dropped()
	if dropped == 0 {
		t.Fatal("no drop counted although the writer was blocked")
	}

	// Unblock the writer: read the pipe until Close ends it.
	unblock(t, reader)
	lines := make(chan int)
	go func() {
		count := 0
		s := bufio.NewScanner(reader)
		for s.Scan() {
			count++
		}
		lines <- count
	}()
	closeErr := l.Close()
	written := <-lines
	// fsync of a pipe fails (EINVAL); what matters is that nothing queued was lost.
	if closeErr != nil && !strings.Contains(closeErr.Error(), "written but not synced") {
		t.Errorf("Close: %v", closeErr)
	}
	if uint64(written)+dropped != n {
		t.Errorf("%d written + %d dropped != %d appended", written, dropped, n)
	}
	if !strings.Contains(logs.String(), "queue full") {
		t.Errorf("drops were not logged:\n%s", logs)
	}
}

// A day file linked to /dev/full is a full disk: every write fails ENOSPC.
func TestFullDiskIsReported(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/dev/full", logFile{day: dayOf(time.Now())}.path(dir)); err != nil {
		t.Fatal(err)
	}
	l, logs := open(t, dir, Options{FlushInterval: time.Millisecond})
	r := fullRecord(0)
	r.Time = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) // stays in today's file
	for range 3 {
		l.Append(r)
	}
	time.Sleep(20 * time.Millisecond) // some failed retries
	err := l.Close()
	if err == nil || !strings.Contains(err.Error(), "3 records not written") || !strings.Contains(err.Error(), "no space left") {
		t.Errorf("Close: %v; want 3 records not written", err)
	}
	if got := strings.Count(logs.String(), "cannot write the decision log"); got != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", got, logs)
	}
}

func TestAppendAfterCloseIsDropped(t *testing.T) {
	l, _ := open(t, t.TempDir(), Options{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Append(fullRecord(0))
	if l.Dropped() != 1 {
		t.Errorf("Dropped = %d, want 1", l.Dropped())
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestSecondWriterRefused(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{})
	defer l.Close()
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open: %v; want an in-use error", err)
	}
}

// Append as the SIP path sees it: every few thousand calls the benchmark
// pauses until the writer has caught up, so that it measures queueing, not
// dropping. BenchmarkAppendParallel lets the queue overflow and shows drops.
func BenchmarkAppend(b *testing.B) {
	l, _ := open(b, b.TempDir(), Options{})
	r := fullRecord(0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if i%4096 == 0 {
			b.StopTimer()
			for len(l.queue) > 0 {
				time.Sleep(100 * time.Microsecond)
			}
			b.StartTimer()
		}
		l.Append(r)
	}
	b.StopTimer()
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "drops/op")
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkAppendParallel(b *testing.B) {
	l, _ := open(b, b.TempDir(), Options{})
	r := fullRecord(0)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Append(r)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "drops/op")
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
}

// The writer's share per record: number, salt, encode, hash, tree.
func BenchmarkWriterAdd(b *testing.B) {
	names := &recordNames{calls: map[string]tlog.Hash{}}
	names.imported(DataImport{Set: "dnc/internal", Version: 7}, 1, tlog.Hash{7})
	w := &writer{cur: logFile{day: dayOf(time.Date(2031, 1, 2, 0, 0, 0, 0, time.UTC))}, maxSize: DefaultMaxFileSize, tree: &tree{},
		salts: rand.NewChaCha8([32]byte{}), names: names}
	r := fullRecord(0)
	r.Cites = []uint64{7} // its trace's: the writer names the import's record
	b.ReportAllocs()
	start := cpuTime(b)
	defer func() { reportCPU(b, start, b.N, "op") }()
	for b.Loop() {
		w.add(queued{Record: r})
		if len(w.pending) > maxPending {
			w.pending = w.pending[:0]
		}
		if len(w.tree.pending) > 1<<16 {
			w.tree.pending = w.tree.pending[:0]
		}
	}
}

// Queued counts the records the writer has not taken yet, and OnWrite hears
// of every batch written and fsynced, with how long it took.
func TestQueuedAndOnWrite(t *testing.T) {
	dir := t.TempDir()
	var writes atomic.Int32
	var took atomic.Int64
	l, _ := open(t, dir, Options{FlushInterval: time.Hour, OnWrite: func(d time.Duration) {
		writes.Add(1)
		took.Add(int64(d))
	}})
	if n := l.Queued(); n != 0 {
		t.Fatalf("Queued = %d on a new log", n)
	}
	if err := l.AppendSync(context.Background(), fullRecord(0)); err != nil {
		t.Fatal(err)
	}
	if writes.Load() != 1 || took.Load() <= 0 {
		t.Fatalf("after one synced record OnWrite was called %d times, took %v; want once, > 0", writes.Load(), time.Duration(took.Load()))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
