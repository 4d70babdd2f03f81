package formats

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadFileZip(t *testing.T) {
	dir := t.TempDir()
	zpath := filepath.Join(dir, "dnc.zip")
	f, err := os.Create(zpath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	when := time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC)
	for _, e := range [][2]string{{"202.txt", "2025550143\n"}, {"303.txt", "303,5550100\n303,5550101\n"}, {"__MACOSX/._202.txt", "junk"}} {
		name, text := e[0], e[1]
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: when})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(text))
	}
	zw.Close()
	f.Close()

	var got []Record
	var read int64
	file, err := ReadFile(zpath, Options{}, Sink{Record: func(r Record) error { got = append(got, r); return nil }}, func(n int64) { read = n })
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(zpath)
	sum := sha256.Sum256(data)
	if file.SHA256 != hex.EncodeToString(sum[:]) || file.Size != int64(len(data)) || read == 0 {
		t.Errorf("file %+v, read %d; want the archive's own hash and size", file, read)
	}
	if len(file.Entries) != 2 || file.Entries[0].Name != zpath+":202.txt" || file.Entries[1].Layout.Format != FTC || !file.Entries[0].ModTime.Equal(when) {
		t.Errorf("entries %+v", file.Entries)
	}
	if len(got) != 3 {
		t.Errorf("read %d numbers, want 3", len(got))
	}
}

func TestReadFileNamesZipEntryInErrors(t *testing.T) {
	zpath := filepath.Join(t.TempDir(), "bad.zip")
	f, _ := os.Create(zpath)
	zw := zip.NewWriter(f)
	w, _ := zw.Create("202.txt")
	w.Write([]byte("2025550143\n202555014\n"))
	zw.Close()
	f.Close()
	_, err := ReadFile(zpath, Options{Format: FTC}, Sink{Record: func(Record) error { return nil }}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), zpath+":202.txt:2: ") {
		t.Fatalf("error %v; want FILE:ENTRY:LINE", err)
	}
}

func TestReadFilePlainHash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.txt")
	text := "2025550143\n"
	os.WriteFile(path, []byte(text), 0o644)
	file, err := ReadFile(path, Options{}, Sink{Record: func(Record) error { return nil }}, nil)
	sum := sha256.Sum256([]byte(text))
	if err != nil || file.SHA256 != hex.EncodeToString(sum[:]) || file.Size != int64(len(text)) || len(file.Entries) != 1 || file.Entries[0].Name != path {
		t.Fatalf("file %+v, %v", file, err)
	}
}
