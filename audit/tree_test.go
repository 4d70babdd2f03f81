package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// testKey makes a checkpoint key outside dir and returns its signer and verifier.
func testKey(t testing.TB) (note.Signer, note.Verifier) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.key")
	s, err := LoadSigner(path, "gatekeeper.test/audit")
	if err != nil {
		t.Fatal(err)
	}
	v, err := LoadVerifier(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// treeHashes is a tlog.HashReader over the tree file of dir.
func treeHashes(t testing.TB, dir string) tlog.HashReader {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, treeFileName))
	if err != nil {
		t.Fatal(err)
	}
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, idx := range indexes {
			copy(out[i][:], data[idx*tlog.HashSize:])
		}
		return out, nil
	})
}

// The tree file holds exactly what tlog stores for the lines as leaves, so
// tlog's own proofs work on it.
func TestTreeIsTlogsTree(t *testing.T) {
	dir := t.TempDir()
	appendClose(t, dir, 0, 5)
	appendClose(t, dir, 5, 37) // reopened: the tree goes on from the file
	lines := readLines(t, recordFile(dir))
	var want []tlog.Hash
	stored := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, idx := range indexes {
			out[i] = want[idx]
		}
		return out, nil
	})
	for n, line := range lines {
		body := append(bytes.Clone(line[:len(line)-hashSuffixLen]), '}')
		hashes, err := tlog.StoredHashes(int64(n), body, stored)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, hashes...)
		if got := hexString(hashes[0]); !bytes.HasSuffix(line, []byte(got+`"}`)) {
			t.Fatalf("line %d: hash field is not its leaf hash %s", n+1, got)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, treeFileName))
	if len(data) != len(want)*tlog.HashSize {
		t.Fatalf("tree file has %d bytes, want %d hashes", len(data), len(want))
	}
	for i, h := range want {
		if !bytes.Equal(data[i*tlog.HashSize:(i+1)*tlog.HashSize], h[:]) {
			t.Fatalf("stored hash %d differs from tlog's", i)
		}
	}
	root, _ := tlog.TreeHash(int64(len(lines)), stored)
	r, err := Verify(dir, VerifyOptions{})
	if err != nil || r.Root != root || r.Size != int64(len(lines)) {
		t.Fatalf("Verify = %+v, %v; want size %d root %s", r, err, len(lines), root)
	}
	for n := range int64(len(lines)) {
		proof, err := tlog.ProveRecord(r.Size, n, treeHashes(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(proof, r.Size, root, n, want[tlog.StoredHashIndex(0, n)]); err != nil {
			t.Fatalf("record %d: %v", n+1, err)
		}
	}
}

func TestTreeRebuiltFromRecords(t *testing.T) {
	for name, damage := range map[string]func(path string) error{
		"missing":       os.Remove,
		"behind":        func(p string) error { return os.Truncate(p, 5*tlog.HashSize) },
		"torn mid-hash": func(p string) error { return os.Truncate(p, 7*tlog.HashSize+5) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			appendClose(t, dir, 0, 20)
			whole, _ := os.ReadFile(filepath.Join(dir, treeFileName))
			if err := damage(filepath.Join(dir, treeFileName)); err != nil {
				t.Fatal(err)
			}
			appendClose(t, dir, 20, 20) // open and close: nothing added
			again, _ := os.ReadFile(filepath.Join(dir, treeFileName))
			if !bytes.Equal(whole, again) {
				t.Fatalf("rebuilt tree differs: %d bytes, want %d", len(again), len(whole))
			}
		})
	}
}

func TestCheckpointsSignedAndChecked(t *testing.T) {
	dir := t.TempDir()
	signer, verifier := testKey(t)
	l, _ := open(t, dir, Options{Signer: signer, CheckpointInterval: 20 * time.Millisecond, FlushInterval: time.Millisecond})
	for i := range 10 {
		l.Append(fullRecord(i))
	}
	time.Sleep(200 * time.Millisecond)
	for i := 10; i < 15; i++ {
		l.Append(fullRecord(i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	cs, err := Checkpoints(dir, verifier)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) < 2 || cs[0].Size != 10 || cs[len(cs)-1].Size != 15 {
		t.Fatalf("checkpoints of sizes %v; want 10 first and 15 (at Close) last", sizes(cs))
	}
	if !strings.HasPrefix(string(cs[0].Note), "gatekeeper.test/audit\n10\n") {
		t.Errorf("checkpoint text:\n%s", cs[0].Note)
	}
	r, err := Verify(dir, VerifyOptions{Verifier: verifier})
	if err != nil || r.Checkpoints != len(cs) || !r.Signed {
		t.Fatalf("Verify = %+v, %v; want %d checkpoints checked", r, err, len(cs))
	}

	_, other := testKey(t)
	if _, err := Verify(dir, VerifyOptions{Verifier: other}); err == nil {
		t.Fatal("checkpoints verified with another key")
	}
}

func sizes(cs []Checkpoint) []int64 {
	var out []int64
	for _, c := range cs {
		out = append(out, c.Size)
	}
	return out
}

// Whoever can write the folder can rewrite every record and hash and rebuild
// the tree, but cannot sign: the checkpoints give it away.
func TestVerifyCatchesARewrittenLog(t *testing.T) {
	dir := t.TempDir()
	signer, verifier := testKey(t)
	l, _ := open(t, dir, Options{Signer: signer})
	for i := range 8 {
		l.Append(fullRecord(i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, recordFile(dir))
	var out []byte
	var lh leafHasher
	for i, line := range lines {
		if i == 2 {
			line = bytes.Replace(line, []byte("+12025550143"), []byte("+12025550199"), 1)
		}
		l, err := parseLine(line)
		if err != nil {
			t.Fatal(err)
		}
		h := hexHash(lh.leaf(l.record))
		out = append(append(append(append(out, l.record...), hashField...), h[:]...), "\"}\n"...)
	}
	os.WriteFile(recordFile(dir), out, 0o640)
	os.Remove(filepath.Join(dir, treeFileName))
	appendClose(t, dir, 0, 0) // a restart rebuilds the tree from the forged records

	_, err := Verify(dir, VerifyOptions{Verifier: verifier})
	if err == nil || !strings.Contains(err.Error(), recordFile(dir)+":8: seq 8: the tree's root differs from the checkpoint") {
		t.Fatalf("Verify of a rewritten log: %v", err)
	}
}

func TestVerifySince(t *testing.T) {
	dir := t.TempDir()
	signer, verifier := testKey(t)
	l, _ := open(t, dir, Options{Signer: signer})
	for i := range 6 {
		l.Append(fullRecord(i))
	}
	l.Close()
	cs, _ := Checkpoints(dir, verifier)
	exported := cs[len(cs)-1].Note

	l, _ = open(t, dir, Options{Signer: signer})
	for i := 6; i < 11; i++ {
		l.Append(fullRecord(i))
	}
	l.Close()
	r, err := Verify(dir, VerifyOptions{Verifier: verifier, Since: exported})
	if err != nil || r.Since == nil || r.Since.Size != 6 || r.Size != 11 {
		t.Fatalf("Verify --since = %+v, %v", r, err)
	}

	t.Run("records cut off after the checkpoint", func(t *testing.T) {
		lines := readLines(t, recordFile(dir))
		os.WriteFile(recordFile(dir), append(bytes.Join(lines[:4], []byte("\n")), '\n'), 0o640)
		_, err := Verify(dir, VerifyOptions{Verifier: verifier, Since: exported})
		if err == nil || !strings.Contains(err.Error(), "tree.hashes holds hashes of records after seq 4: records after it were removed") {
			t.Fatalf("Verify: %v", err)
		}
		// Without the tree file, the checkpoints still show it.
		os.Remove(filepath.Join(dir, treeFileName))
		_, err = Verify(dir, VerifyOptions{Verifier: verifier, Since: exported})
		if err == nil || !strings.Contains(err.Error(), "covers 11 records, the log holds 4: records after seq 4 were removed") {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("a checkpoint signed by another key", func(t *testing.T) {
		forger, _ := testKey(t)
		forged, err := signCheckpoint(forger, 6, cs[len(cs)-1].Root, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(dir, VerifyOptions{Verifier: verifier, Since: forged.Note}); err == nil || !strings.Contains(err.Error(), "--since") {
			t.Fatalf("Verify: %v", err)
		}
	})
}
