package audit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// writeDays writes perDay records on each of the days 2031-05-01.., one file
// each, and returns the files' paths.
func writeDays(t *testing.T, dir string, days, perDay int) []string {
	t.Helper()
	l, _ := open(t, dir, Options{Uncompressed: true}) // the tests edit the files
	var paths []string
	for d := 1; d <= days; d++ {
		for i := range perDay {
			r := fullRecord(i)
			r.Time = time.Date(2031, 5, d, 12, 0, i, 0, time.UTC)
			l.Append(r)
		}
		paths = append(paths, logFile{day: 20310500 + d}.path(dir))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return paths
}

// editLine rewrites line n (1-based) of a file with edit.
func editLine(t *testing.T, path string, n int, edit func(line []byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	lines[n-1] = edit(bytes.Clone(lines[n-1]))
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyWholeChain(t *testing.T) {
	dir := t.TempDir()
	writeDays(t, dir, 3, 4)
	if r, err := Verify(dir, VerifyOptions{}); err != nil || r.Records != 12 {
		t.Fatalf("Verify = %d, %v; want 12 records", r.Records, err)
	}
}

func TestVerifyNamesTheBrokenLine(t *testing.T) {
	// Each edit changes line 3 of the middle file (record 7 of 12); other is
	// line 3 of the first file, a genuine record from elsewhere.
	for name, tc := range map[string]struct {
		edit     func(line, other []byte) []byte
		line     int // the line Verify must name
		complain string
	}{
		"called number changed": {edit: replaceOnce("+12025550143", "+12025550144"), line: 3, complain: "altered"},
		"decision changed":      {edit: replaceOnce(`"reject"`, `"allow" `), line: 3, complain: "altered"},
		"seq changed":           {edit: replaceOnce(`"seq":7`, `"seq":8`), line: 3, complain: "altered"},
		"a quote removed":       {edit: replaceOnce(`"decision":`, `"decision:`), line: 3, complain: "altered"},
		"hash field cut":        {edit: replaceOnce(`,"hash":"`, `,"hash":`), line: 3, complain: "not a complete record"},
		"a hash digit changed":  {edit: func(l, _ []byte) []byte { l[len(l)-4] ^= 1; return l }, line: 3, complain: "altered"},
		"a hash digit not hex":  {edit: func(l, _ []byte) []byte { l[len(l)-4] = 'g'; return l }, line: 3, complain: "not a complete record: its hash is not 64 hex digits"},
		"line emptied":          {edit: func(_, _ []byte) []byte { return []byte("\n") }, line: 3, complain: "not a complete record"},
		// A forger who rewrites a record and its hash is caught by the tree.
		"record rehashed":   {edit: rehashed(replaceOnce("+12025550143", "+12025550144")), line: 3, complain: "tree.hashes holds another hash for its leaf"},
		"record deleted":    {edit: func(_, _ []byte) []byte { return nil }, line: 3, complain: "seq 8 follows seq 6"},
		"record duplicated": {edit: func(l, _ []byte) []byte { return append(bytes.Clone(l), l...) }, line: 4, complain: "seq 7 follows seq 7"},
		"record replayed":   {edit: func(_, other []byte) []byte { return other }, line: 3, complain: "seq 3 follows seq 6"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			paths := writeDays(t, dir, 3, 4)
			other := readLines(t, paths[0])[2]
			editLine(t, paths[1], 3, func(line []byte) []byte { return tc.edit(line, append(other, '\n')) })
			_, err := Verify(dir, VerifyOptions{})
			want := fmt.Sprintf("%s:%d: ", paths[1], tc.line)
			if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.complain) {
				t.Fatalf("Verify: %v\nwant an error starting %q and saying %q", err, want, tc.complain)
			}
		})
	}
}

func replaceOnce(old, new string) func(line, _ []byte) []byte {
	return func(line, _ []byte) []byte {
		if !bytes.Contains(line, []byte(old)) {
			panic("no " + old + " in " + string(line))
		}
		return bytes.Replace(line, []byte(old), []byte(new), 1)
	}
}

// rehashed edits a line and gives it the hash its new content has.
func rehashed(edit func(line, other []byte) []byte) func(line, other []byte) []byte {
	return func(line, other []byte) []byte {
		var lh leafHasher
		l, err := parseLine(bytes.TrimSuffix(edit(line, other), []byte("\n")))
		if err != nil {
			panic(err)
		}
		hash := hexHash(lh.leaf(l.record))
		return append(append(append(l.record, hashField...), hash[:]...), "\"}\n"...)
	}
}

func TestVerifyAcrossFiles(t *testing.T) {
	t.Run("retention deleted the oldest files", func(t *testing.T) {
		dir := t.TempDir()
		paths := writeDays(t, dir, 3, 4)
		os.Remove(paths[0])
		if r, err := Verify(dir, VerifyOptions{}); err != nil || r.Records != 8 {
			t.Fatalf("Verify = %d, %v; want 8 records", r.Records, err)
		}
	})
	t.Run("a middle file deleted", func(t *testing.T) {
		dir := t.TempDir()
		paths := writeDays(t, dir, 3, 4)
		os.Remove(paths[1])
		_, err := Verify(dir, VerifyOptions{})
		if err == nil || !strings.HasPrefix(err.Error(), paths[2]+":1: seq 9 follows seq 4") {
			t.Fatalf("Verify: %v", err)
		}
	})
	// Nothing before record 1 could show that the chain goes on across it.
	t.Run("the first record broken", func(t *testing.T) {
		dir := t.TempDir()
		paths := writeDays(t, dir, 1, 3)
		editLine(t, paths[0], 1, func(l []byte) []byte { return replaceOnce(`{"time"`, `{"tim`)(l, nil) })
		_, err := Verify(dir, VerifyOptions{})
		if err == nil || !strings.HasPrefix(err.Error(), paths[0]+":1: the hash does not match the record: it was altered") {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("no files", func(t *testing.T) {
		if _, err := Verify(t.TempDir(), VerifyOptions{}); err == nil || !strings.Contains(err.Error(), "no decision files") {
			t.Fatalf("Verify of an empty directory: %v", err)
		}
	})
}

// BenchmarkVerify verifies 10,000 records of one shape: fullRecord's (every
// field escaped), an allowed call's decision under the shipped policy
// (shippedRecord), and a day of the shipped policy (dayRecords: 80 % of the
// calls allowed, each with its outcome), in a plain file and, as a day's file
// is kept once the day is over, compressed ("day.gz"). The log prints the
// records' mean size on disk.
func BenchmarkVerify(b *testing.B) {
	for _, shape := range []struct {
		name     string
		record   func(int) Record
		compress bool
	}{
		{"full", fullRecord, false},
		{"shipped", shippedRecord, false},
		{"day", func(i int) Record { return day[i] }, false},
		{"day.gz", func(i int) Record { return day[i] }, true},
	} {
		b.Run(shape.name, func(b *testing.B) {
			const n = 10000
			dir := b.TempDir()
			l, _ := open(b, dir, Options{QueueSize: n, Uncompressed: true})
			for i := range n {
				if i < 2 { // the imports the traces cite, named in the decisions (data_hashes)
					l.Append(servedImports()[i])
					continue
				}
				l.Append(shape.record(i))
			}
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			files, _ := logFiles(dir)
			info, err := os.Stat(files[0].path(dir))
			if err != nil || len(files) != 1 {
				b.Fatal(files, err)
			}
			if shape.compress {
				if err := compressFile(context.Background(), dir, files[0], nil); err != nil {
					b.Fatal(err)
				}
			}
			b.Logf("%d records of %.0f bytes", n, float64(info.Size())/n)
			b.ReportAllocs()
			start := cpuTime(b)
			for b.Loop() {
				if r, err := Verify(dir, VerifyOptions{}); err != nil || r.Records != n {
					b.Fatal(r.Records, err)
				}
			}
			reportCPU(b, start, b.N*n, "record")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}

var day = dayRecords(10000)

// lineReader gives every line whole, wherever the reads cut it: lines
// longer than its buffer, an empty line, a last line without a newline.
func TestLineReader(t *testing.T) {
	lines := []string{"a", strings.Repeat("b", 100), "", strings.Repeat("c", 37), strings.Repeat("d", 250), "e"}
	text := strings.Join(lines, "\n")
	for _, size := range []int{16, 64, 1 << 20} {
		for _, final := range []string{"", "\n"} {
			lr := lineReader{size: size}
			lr.reset(iotest.OneByteReader(strings.NewReader(text + final)))
			var got []string
			for {
				line, err := lr.next()
				if err == io.EOF && len(line) == 0 {
					break
				}
				got = append(got, string(line))
				if err != nil && err != io.EOF {
					t.Fatal(err)
				}
			}
			if !slices.Equal(got, lines) {
				t.Errorf("size %d, final %q: %q", size, final, got)
			}
		}
	}
}

// A plain file is read mapped into memory: one cut shorter meanwhile gives
// an error that names it, not a crash.
func TestVerifyMappedFileShrinks(t *testing.T) {
	dir := t.TempDir()
	paths := writeDays(t, dir, 1, 3)
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := mapFile(f)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(data)
	if err := os.Truncate(paths[0], 0); err != nil {
		t.Fatal(err)
	}
	var v verifier
	if err := v.mapped(paths[0], data); err == nil || !strings.Contains(err.Error(), paths[0]+": the file shrank while it was read") {
		t.Fatalf("verify of a file cut short: %v", err)
	}
}

// The tree file is read a leaf's row of hashes at a time: one that lags
// behind the records (a running server writes it after them) verifies,
// and a subtree's hash altered in a row is named.
func TestVerifyTreeFile(t *testing.T) {
	t.Run("behind, cut in a row", func(t *testing.T) {
		dir := t.TempDir()
		writeDays(t, dir, 3, 4)
		// Leaf 7 (seq 8) is stored at 11, the three subtrees it ends at 12-14.
		if err := os.Truncate(filepath.Join(dir, treeFileName), 12*tlog.HashSize+5); err != nil {
			t.Fatal(err)
		}
		if r, err := Verify(dir, VerifyOptions{}); err != nil || r.Records != 12 || r.Untreed != 5 {
			t.Fatalf("Verify = %+v, %v; want 12 records, the last 5 not wholly in the tree", r, err)
		}
	})
	t.Run("a subtree altered", func(t *testing.T) {
		dir := t.TempDir()
		paths := writeDays(t, dir, 3, 4)
		f, err := os.OpenFile(filepath.Join(dir, treeFileName), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		// The subtree of leaves 0-3 (level 2), stored after leaf 3 (seq 4).
		if _, err := f.WriteAt([]byte{0xff}, tlog.StoredHashIndex(2, 0)*tlog.HashSize); err != nil {
			t.Fatal(err)
		}
		f.Close()
		_, err = Verify(dir, VerifyOptions{})
		if err == nil || !strings.HasPrefix(err.Error(), paths[0]+":4: seq 4: tree.hashes holds another hash for a subtree ending at it") {
			t.Fatalf("Verify: %v", err)
		}
	})
}

// A line that is not a record at the end of the log (a write under way, a
// crash's cut, a line added by hand) is not proven by any record: Verify
// passes the records before it and names the line. A log emptied is named
// as such, not by a FILE:LINE of no file.
func TestVerifyNamesALastLineThatIsNotARecord(t *testing.T) {
	dir := t.TempDir()
	paths := writeDays(t, dir, 2, 4)
	f, err := os.OpenFile(paths[1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("hello\n")
	f.Close()
	r, err := Verify(dir, VerifyOptions{})
	if want := paths[1] + ":5: not a complete record"; err != nil || r.Records != 8 || !strings.HasPrefix(r.Unfinished, want) {
		t.Errorf("Verify = %d records, unfinished %q, %v; want 8 and %q", r.Records, r.Unfinished, err, want)
	}

	for _, p := range paths {
		os.Truncate(p, 0)
	}
	if _, err := Verify(dir, VerifyOptions{}); err == nil || !strings.HasPrefix(err.Error(), "no record in the files: tree.hashes holds hashes of records after seq 0") {
		t.Errorf("Verify of emptied files: %v", err)
	}
}
