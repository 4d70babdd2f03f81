package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// indexedLog writes calls over two days, ≈ 3 MB on the first (several
// blocks), and brings the complete file to the form asked: plain or
// compressed, with its index saved.
func indexedLog(t *testing.T, compressed bool) (string, []testCall, logFile) {
	t.Helper()
	dir, calls := queryLogWith(t, 9000, time.Second, Options{Uncompressed: true, Retain: -1})
	files := filesOf(t, dir)
	if len(files) != 2 || files[0].gz {
		t.Fatalf("files %v; want two plain", files)
	}
	f := files[0]
	if compressed {
		if err := compressFile(context.Background(), dir, f, nil); err != nil {
			t.Fatal(err)
		}
		f.gz = true
	}
	if err := indexFile(context.Background(), dir, f, nil); err != nil {
		t.Fatal(err)
	}
	return dir, calls, f
}

func TestIndexFindsEveryCall(t *testing.T) {
	for _, compressed := range []bool{false, true} {
		t.Run(fmt.Sprintf("compressed=%v", compressed), func(t *testing.T) {
			dir, calls, f := indexedLog(t, compressed)
			ix, err := openIndex(dir, f, fileSize(t, f.path(dir)))
			if err != nil || ix == nil {
				t.Fatalf("no saved index: %v", err)
			}
			ix.Close()
			if len(ix.blocks) < 3 {
				t.Fatalf("%d blocks in a file of %d bytes", len(ix.blocks), fileSize(t, f.path(dir)))
			}
			// A number called once, again and again, a Call-ID, in the
			// complete file, the writer's, and across both.
			for _, q := range []Query{
				{Called: calls[2].Called}, {Called: calls[8000].Called}, {Called: queryNumbers[0]}, {Called: queryNumbers[1], Decision: "reject"},
				{CallID: calls[4321].CallID}, {CallID: calls[8999].CallID}, {Called: "+19995550100"},
			} {
				got := searchAll(t, dir, q)
				exp := want(calls, func(c testCall) bool {
					return (q.Called == "" || c.Called == q.Called) && (q.CallID == "" || c.CallID == q.CallID) && (q.Decision == "" || c.Decision == q.Decision)
				})
				if !slices.Equal(callIDs(got), exp) {
					t.Errorf("%+v: %d calls, want %d", q, len(got), len(exp))
				}
				for _, c := range got {
					if c.Decision.Decision == "allow" && c.Outcome == nil {
						t.Errorf("%+v: %s without its outcome", q, c.Decision.CallID)
					}
				}
			}
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

// A lookup reads the blocks that hold the number, not the whole file.
func TestIndexReadsFewBlocks(t *testing.T) {
	dir, calls, f := indexedLog(t, true)
	ix, err := openIndex(dir, f, fileSize(t, f.path(dir)))
	if err != nil || ix == nil {
		t.Fatal(err)
	}
	defer ix.Close()
	value := []byte(calls[2].Called)
	blocks, err := ix.blocksOf(indexKey("called", value))
	if err != nil || len(blocks) != 1 {
		t.Fatalf("blocks %v, %v: want the one block of a number called once", blocks, err)
	}
	var lines int
	if err := ix.readBlocks(dir, f, blocks, func(line []byte) bool { lines++; return true }); err != nil {
		t.Fatal(err)
	}
	total := 0
	eachLine(dir, f, func(position, []byte) error { total++; return nil })
	if lines == 0 || lines > total/2 {
		t.Errorf("read %d lines for one number, of %d in the file", lines, total)
	}
}

// An index is derived data: a stale one (the file changed size, as a
// redaction does) or a corrupt one is rebuilt, a missing one built, and a
// folder that cannot take one is read all the same.
func TestIndexRebuiltWhenStaleOrMissing(t *testing.T) {
	dir, calls, f := indexedLog(t, false)
	path := indexPath(dir, f)
	q := Query{Called: calls[5].Called}
	exp := want(calls, func(c testCall) bool { return c.Called == q.Called })

	// The index of a file that grew no longer holds: it is rebuilt.
	if err := os.WriteFile(path, []byte(indexMagic+strings.Repeat("\x00", 24)), 0o640); err != nil {
		t.Fatal(err)
	}
	if got := callIDs(searchAll(t, dir, q)); !slices.Equal(got, exp) {
		t.Errorf("with a stale index: %v, want %v", got, exp)
	}
	if ix, _ := openIndex(dir, f, fileSize(t, f.path(dir))); ix == nil {
		t.Error("the stale index was not rebuilt")
	} else {
		ix.Close()
	}

	os.RemoveAll(filepath.Join(dir, indexDirName))
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	if got := callIDs(searchAll(t, dir, q)); !slices.Equal(got, exp) {
		t.Errorf("in a folder that takes no index: %v, want %v", got, exp)
	}
	if _, err := os.Stat(filepath.Join(dir, indexDirName)); err == nil && os.Geteuid() != 0 {
		t.Error("an index was written into a read-only folder")
	}
}

// filesOf lists the log's files of 2031, where the test records go (the
// writer also starts a file for today when it opens).
func filesOf(t testing.TB, dir string) []logFile {
	t.Helper()
	files, err := logFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(files, func(f logFile) bool { return f.day < 20310000 })
}

// The server indexes a file once it is complete (and compressed), and drops
// the index of a file that is gone.
func TestUpkeepIndexesCompleteFiles(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{Retain: -1})
	day := time.Date(2031, 1, 2, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		r := fullRecord(i)
		r.Time = day.AddDate(0, 0, i)
		l.Append(r)
	}
	complete := []logFile{{day: 20310102, gz: true}, {day: 20310103, gz: true}}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err1 := os.Stat(indexPath(dir, complete[0]))
		_, err2 := os.Stat(indexPath(dir, complete[1]))
		if err1 == nil && err2 == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no index of the complete files after 10 s: %v, %v", err1, err2)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(indexPath(dir, logFile{day: 20310104})); err == nil {
		t.Error("the writer's file has an index")
	}
	// Verify reads the records alone, never the indexes beside them.
	if r, err := Verify(dir, VerifyOptions{}); err != nil || r.Records != 3 {
		t.Errorf("verify with indexes in the folder: %+v, %v", r, err)
	}
	os.Remove(complete[0].path(dir))
	if err := pruneIndexes(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(indexPath(dir, complete[0])); err == nil {
		t.Error("the index of a deleted file stays")
	}
	if _, err := os.Stat(indexPath(dir, complete[1])); err != nil {
		t.Error("pruning removed the index of a file that is there")
	}
}

// Compressed files are gzip members of about a megabyte, each starting at a
// line, which every gzip reader reads as one stream.
func TestCompressMembers(t *testing.T) {
	var text bytes.Buffer
	for i := 0; text.Len() < 3*gzipMemberSize+100; i++ {
		fmt.Fprintf(&text, `{"seq":%d,"x":"%s"}`+"\n", i, strings.Repeat("y", i%700))
	}
	text.WriteString(strings.Repeat("z", 300<<10) + "\n") // a line longer than the read buffer
	var out bytes.Buffer
	if err := compressMembers(&out, bytes.NewReader(text.Bytes())); err != nil {
		t.Fatal(err)
	}
	z, err := gzip.NewReader(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(z)
	if err != nil || !bytes.Equal(back, text.Bytes()) {
		t.Fatalf("read back %d bytes of %d: %v", len(back), text.Len(), err)
	}
	// Count the members and check each starts at a line.
	members, at := 0, int64(0)
	cr := &countingReader{r: bufio.NewReader(bytes.NewReader(out.Bytes()))}
	for at < int64(out.Len()) {
		z, err := gzip.NewReader(cr)
		if err != nil {
			t.Fatal(err)
		}
		z.Multistream(false)
		m, err := io.ReadAll(z)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) == 0 || m[len(m)-1] != '\n' {
			t.Fatalf("member %d does not end at a line's end", members)
		}
		members++
		at = cr.n
		if at < int64(out.Len()) && len(m) < gzipMemberSize {
			t.Errorf("member %d holds %d bytes, less than %d", members, len(m), gzipMemberSize)
		}
	}
	if members < 3 {
		t.Errorf("%d members in %d bytes of text", members, text.Len())
	}
}

// Stats answers from the hourly counts of the index when the time range
// takes whole hours, from the lines otherwise, and both agree with the
// calls written.
func TestStatsFromTheIndexCounts(t *testing.T) {
	dir, calls, f := indexedLog(t, true)
	half := time.FixedZone("half-hour", 5*3600+1800)
	for _, tc := range []struct {
		name      string
		q         Query
		by        []string
		fromIndex bool
	}{
		{"whole hours", Query{Since: time.Date(2031, 1, 2, 22, 0, 0, 0, time.UTC), Until: time.Date(2031, 1, 2, 23, 0, 0, 0, time.UTC)}, []string{"hour", "rule"}, true},
		{"no range", Query{Rule: "internal-dnc"}, []string{"day", "campaign"}, true},
		{"cut hour", Query{Since: time.Date(2031, 1, 2, 22, 30, 0, 0, time.UTC)}, []string{"rule", "decision", "status"}, true},
		{"cut hours", Query{Since: time.Date(2031, 1, 2, 22, 10, 5, 0, time.UTC), Until: time.Date(2031, 1, 2, 23, 50, 0, 0, time.UTC)}, []string{"hour", "dialer"}, true},
		{"half-hour zone", Query{Zone: half}, []string{"hour"}, false},
		{"half-hour zone, no time group", Query{Zone: half}, []string{"dialer"}, true},
		{"seller", Query{Seller: "globex"}, []string{"seller", "rule"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Stats(dir, tc.q, tc.by)
			if err != nil {
				t.Fatal(err)
			}
			exp := map[string]int64{}
			zone := cmp.Or(tc.q.Zone, time.UTC)
			for _, c := range calls {
				s := summaryOf(&c.Record, c.seller)
				tl := tally{q: Query{Since: tc.q.Since, Until: tc.q.Until, Rule: tc.q.Rule, Seller: tc.q.Seller}}
				if !tl.inRange(c.Time) || !tl.matches(&s) {
					continue
				}
				var key []string
				for _, g := range tc.by {
					key = append(key, groupValue(g, &s, zone))
				}
				exp[strings.Join(key, "|")]++
			}
			if len(got) != len(exp) {
				t.Errorf("%d rows, want %d: %+v", len(got), len(exp), got)
			}
			for _, r := range got {
				if n := exp[strings.Join(r.Group, "|")]; r.Calls != n {
					t.Errorf("%v: %d calls, want %d", r.Group, r.Calls, n)
				}
			}
			q := tc.q
			q.Zone = zone
			used, err := (&tally{q: q, by: tc.by, rows: map[string]*Row{}}).fromIndex(dir, f)
			if err != nil || used != tc.fromIndex {
				t.Errorf("answered from the index: %v, want %v (%v)", used, tc.fromIndex, err)
			}
		})
	}
}

// A redaction rewrites a file: its index goes with it, and the next query
// finds the other calls in a new one, not the redacted call.
func TestRedactDropsTheIndex(t *testing.T) {
	dir, calls, f := indexedLog(t, true)
	gone := searchAll(t, dir, Query{CallID: calls[100].CallID})
	if len(gone) != 1 {
		t.Fatalf("%d calls before the redaction", len(gone))
	}
	if err := Redact(dir, gone[0].Decision.Seq, "court order"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(indexPath(dir, f)); err == nil {
		t.Error("the index of the redacted file stays")
	}
	if got := searchAll(t, dir, Query{CallID: calls[100].CallID}); len(got) != 0 {
		t.Errorf("the redacted call is still found: %v", callIDs(got))
	}
	q := Query{Called: calls[101].Called}
	if got, exp := callIDs(searchAll(t, dir, q)), want(calls, func(c testCall) bool { return c.Called == q.Called }); !slices.Equal(got, exp) {
		t.Errorf("after the redaction: %v, want %v", got, exp)
	}
}

// BenchmarkIndexFile indexes a complete plain file of 60,000 calls (≈ 20 MB)
// and saves its index: B/op is what it allocates, of which the sorted pairs
// (8 bytes a Call-ID or called number a block) are the largest part.
func BenchmarkIndexFile(b *testing.B) {
	dir, _ := queryLogWith(b, 60000, 100*time.Millisecond, Options{Uncompressed: true, Retain: -1})
	files := filesOf(b, dir)
	f := files[0]
	b.ReportAllocs()
	for b.Loop() {
		if err := os.Remove(indexPath(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.Fatal(err)
		}
		if err := indexFile(context.Background(), dir, f, nil); err != nil {
			b.Fatal(err)
		}
	}
}
