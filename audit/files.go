package audit

import (
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// A day is a UTC date as the number YYYYMMDD: cheap to compute per record and
// ordered like the dates.
func dayOf(t time.Time) int {
	y, m, d := t.UTC().Date()
	return y*10000 + int(m)*100 + d
}

// dayStart is midnight UTC at the start of day.
func dayStart(day int) time.Time {
	return time.Date(day/10000, time.Month(day/100%100), day%100, 0, 0, 0, 0, time.UTC)
}

// logFile names one file of the log: part 0 of a day is
// decisions-YYYY-MM-DD.jsonl, the parts the size limit starts after it
// decisions-YYYY-MM-DD.N.jsonl; a closed file is compressed to the same name
// + .gz.
type logFile struct {
	day, part int
	gz        bool
}

const gzSuffix = ".gz"

func (f logFile) name() string {
	name := fmt.Sprintf("decisions-%04d-%02d-%02d", f.day/10000, f.day/100%100, f.day%100)
	if f.part > 0 {
		name += fmt.Sprintf(".%d", f.part)
	}
	name += ".jsonl"
	if f.gz {
		name += gzSuffix
	}
	return name
}

func (f logFile) path(dir string) string { return filepath.Join(dir, f.name()) }

// plain is the file as the writer wrote it, before compression.
func (f logFile) plain() logFile { f.gz = false; return f }

func (f logFile) compare(g logFile) int {
	if f.day != g.day {
		return f.day - g.day
	}
	return f.part - g.part
}

// parseLogFile reads a file name as logFile.name writes it.
func parseLogFile(name string) (logFile, bool) {
	var f logFile
	base, gz := strings.CutSuffix(name, gzSuffix)
	base, ok := strings.CutSuffix(base, ".jsonl")
	if !ok {
		return f, false
	}
	date, part, hasPart := strings.Cut(strings.TrimPrefix(base, "decisions-"), ".")
	var y, m, d int
	if _, err := fmt.Sscanf(date, "%4d-%2d-%2d", &y, &m, &d); err != nil {
		return f, false
	}
	f = logFile{day: y*10000 + m*100 + d, gz: gz}
	if hasPart {
		if _, err := fmt.Sscanf(part, "%d", &f.part); err != nil || f.part < 1 {
			return f, false
		}
	}
	return f, f.name() == name // only the canonical spelling
}

// logFiles lists the log's files in dir, oldest first. A file present both
// plain and compressed (compression was under way) is listed once, plain.
// Other files in dir are not the log's and are left alone.
func logFiles(dir string) ([]logFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []logFile
	for _, e := range entries {
		if f, ok := parseLogFile(e.Name()); ok && e.Type().IsRegular() {
			files = append(files, f)
		}
	}
	slices.SortFunc(files, func(a, b logFile) int {
		if c := a.compare(b); c != 0 {
			return c
		}
		if a.gz == b.gz {
			return 0
		}
		if a.gz {
			return 1
		}
		return -1
	})
	return slices.CompactFunc(files, func(a, b logFile) bool { return a.compare(b) == 0 }), nil
}

// openLogFile opens one file of the log for reading, decompressing a
// compressed one: every reader of the log goes through it. A plain file that
// the writer compressed meanwhile is read compressed.
func openLogFile(dir string, f logFile) (io.ReadCloser, error) {
	file, err := os.Open(f.path(dir))
	if errors.Is(err, fs.ErrNotExist) && !f.gz {
		f.gz = true
		file, err = os.Open(f.path(dir))
	}
	if err != nil {
		return nil, err
	}
	if !f.gz {
		return file, nil
	}
	z, err := gzip.NewReader(file)
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("%s: %w", f.path(dir), err)
	}
	return gzFile{z, file}, nil
}

type gzFile struct {
	*gzip.Reader
	file *os.File
}

func (g gzFile) Close() error { return errors.Join(g.Reader.Close(), g.file.Close()) }

// openForAppend opens a file of the log for the writer, creating it if
// needed. The directory is synced too, so that a new file's name survives a
// crash.
func openForAppend(dir string, f logFile) (*os.File, error) {
	file, err := os.OpenFile(f.path(dir), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		file.Close()
		return nil, err
	}
	return file, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// lockDir keeps a second writer out of dir: two writers would fork the chain.
// The lock goes with the process, so a crash never leaves it behind.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %w", ErrLocked, err)
	}
	return f, nil
}
