package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// A day is a UTC date as the number YYYYMMDD: cheap to compute per record and
// ordered like the dates.
func dayOf(t time.Time) int {
	y, m, d := t.UTC().Date()
	return y*10000 + int(m)*100 + d
}

func fileName(day int) string {
	return fmt.Sprintf("decisions-%04d-%02d-%02d.jsonl", day/10000, day/100%100, day%100)
}

// dayFiles lists the days that have a decision file in dir, oldest first.
// Other files in dir are not the log's and are left alone.
func dayFiles(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var days []int
	for _, e := range entries { // ReadDir sorts by name, and so by date
		var y, m, d int
		if _, err := fmt.Sscanf(e.Name(), "decisions-%4d-%2d-%2d.jsonl", &y, &m, &d); err != nil {
			continue
		}
		day := y*10000 + m*100 + d
		if e.Type().IsRegular() && fileName(day) == e.Name() {
			days = append(days, day)
		}
	}
	return days, nil
}

// openDayFile opens a day's file for appending, creating it if needed. The
// directory is synced too, so that a new file's name survives a crash.
func openDayFile(dir string, day int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, fileName(day)), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
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
