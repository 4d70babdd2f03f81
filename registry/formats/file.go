package formats

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"time"
)

// File describes a file that was read.
type File struct {
	Size    int64
	SHA256  string
	ModTime time.Time
	Entries []Entry // the file itself, or each list inside a zip archive
}

// Entry is one list read from a file.
type Entry struct {
	Name    string    `json:"name"` // the file, or FILE:ENTRY inside a zip archive
	Layout  Layout    `json:"layout"`
	ModTime time.Time `json:"-"` // a zip entry's time; zero for a plain file
}

// zipMagic starts every zip archive (a local file header).
var zipMagic = []byte("PK\x03\x04")

// ReadFile reads a list file, or every list inside a zip archive (the FTC
// delivers its files zipped), and hashes the file as delivered. read, when not
// nil, is told how many bytes of the file have been read so far.
func ReadFile(name string, opts Options, sink Sink, read func(int64)) (File, error) {
	f, fi, err := openRegular(name)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	file := File{Size: fi.Size(), ModTime: fi.ModTime()}
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return File{}, err
	}
	progress := &counter{report: read}
	if bytes.Equal(magic[:n], zipMagic) {
		return readZip(f, name, file, opts, sink, progress)
	}
	h := sha256.New()
	lay, err := Read(io.TeeReader(progress.reader(f), h), name, opts, sink)
	if err != nil {
		return File{}, err
	}
	file.SHA256 = hex.EncodeToString(h.Sum(nil))
	file.Entries = []Entry{{Name: name, Layout: lay}}
	return file, nil
}

// openRegular opens a file to read and refuses a directory, which os.Open
// would open without complaint.
func openRegular(name string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is a directory", name)
	}
	return f, fi, nil
}

func readZip(f *os.File, name string, file File, opts Options, sink Sink, progress *counter) (File, error) {
	// The archive is read at random offsets: hash it in one pass first (≈ 2 GB/s).
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return File{}, err
	}
	file.SHA256 = hex.EncodeToString(h.Sum(nil))
	zr, err := zip.NewReader(progress.readerAt(f), file.Size)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", name, err)
	}
	for _, zf := range zr.File {
		base := path.Base(zf.Name)
		if zf.FileInfo().IsDir() || strings.HasPrefix(zf.Name, "__MACOSX/") || strings.HasPrefix(base, ".") {
			continue
		}
		entry := Entry{Name: name + ":" + zf.Name, ModTime: zf.Modified}
		rc, err := zf.Open()
		if err != nil {
			return File{}, fmt.Errorf("%s: %w", entry.Name, err)
		}
		entry.Layout, err = Read(rc, entry.Name, opts, sink)
		rc.Close()
		if err != nil {
			return File{}, err
		}
		file.Entries = append(file.Entries, entry)
	}
	if len(file.Entries) == 0 {
		return File{}, fmt.Errorf("%s: the zip archive holds no list file", name)
	}
	return file, nil
}

// counter counts the bytes read from a file and reports the total.
type counter struct {
	n      atomic.Int64
	report func(int64)
}

func (c *counter) add(n int) {
	total := c.n.Add(int64(n))
	if c.report != nil {
		c.report(total)
	}
}

type countingReader struct {
	r io.Reader
	c *counter
}

func (c *counter) reader(r io.Reader) io.Reader { return countingReader{r, c} }

func (cr countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.c.add(n)
	return n, err
}

type countingReaderAt struct {
	r io.ReaderAt
	c *counter
}

func (c *counter) readerAt(r io.ReaderAt) io.ReaderAt { return countingReaderAt{r, c} }

func (cr countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := cr.r.ReadAt(p, off)
	cr.c.add(n)
	return n, err
}
