package audit

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

// upkeep compresses the files the writer completes and deletes those past
// the retention period, in a goroutine of its own: the writer never waits
// for it.
type upkeep struct {
	dir      string
	retain   time.Duration // negative: keep every file
	compress bool
	logger   *slog.Logger
	closed   chan logFile
	pace     *pacer
	cancel   context.CancelFunc
	done     chan struct{}
}

// startUpkeep compresses the complete files already in dir (every plain
// file but cur, the writer's), applies retention, and then waits for the
// files the writer completes.
func startUpkeep(dir string, opts Options, cur logFile) *upkeep {
	ctx, cancel := context.WithCancel(context.Background())
	u := &upkeep{dir: dir, retain: opts.Retain, compress: !opts.Uncompressed, logger: opts.Logger,
		closed: make(chan logFile, 64), pace: newPacer(upkeepShare), cancel: cancel, done: make(chan struct{})}
	go u.run(ctx, cur)
	return u
}

func (u *upkeep) stop() {
	u.cancel()
	<-u.done
}

func (u *upkeep) run(ctx context.Context, cur logFile) {
	defer close(u.done)
	if files, err := logFiles(u.dir); err == nil {
		for _, f := range files {
			if f.compare(cur) < 0 && (f.gz || u.compressFile(ctx, f)) {
				u.index(ctx, f)
			}
		}
	}
	u.expire(time.Now())
	for {
		select {
		case f := <-u.closed:
			if u.compressFile(ctx, f) {
				u.index(ctx, f)
			}
			u.expire(time.Now())
		case <-ctx.Done():
			return
		}
	}
}

// compressFile compresses a complete plain file, or removes it when it is
// empty (a day without records: nothing to keep or index). It reports
// whether the file is still there.
func (u *upkeep) compressFile(ctx context.Context, f logFile) bool {
	if info, err := os.Stat(f.path(u.dir)); err == nil && info.Size() == 0 {
		if err := os.Remove(f.path(u.dir)); err != nil {
			u.logger.Error("audit: removing an empty complete file", "file", f.path(u.dir), "err", err)
			return true
		}
		return false
	}
	if !u.compress || ctx.Err() != nil {
		return true
	}
	if err := compressFile(ctx, u.dir, f, u.pace); err != nil && ctx.Err() == nil {
		u.logger.Error("audit: compressing a complete file; it stays uncompressed", "file", f.path(u.dir), "err", err)
	}
	return true
}

// index gives a complete file its index (index.go), unless it has one.
func (u *upkeep) index(ctx context.Context, f logFile) {
	if err := indexFile(ctx, u.dir, f, u.pace); err != nil && ctx.Err() == nil {
		u.logger.Error("audit: indexing a complete file; queries read it whole", "file", f.path(u.dir), "err", err)
	}
}

// compressFile writes a complete plain file as name.gz (through a temporary
// file, fsync and rename), then removes the plain one. Readers meanwhile see
// the plain file (logFiles prefers it) or, once it is gone, the compressed
// one (openLogFile). It stops when ctx ends, leaving the plain file; pace,
// when not nil, keeps it to a share of a core.
func compressFile(ctx context.Context, dir string, f logFile, pace *pacer) error {
	plain := f.path(dir)
	in, err := os.Open(plain)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	gz := logFile{day: f.day, part: f.part, gz: true}.path(dir)
	tmp := gz + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	err = compressMembers(out, contextReader{ctx, in, pace})
	if err == nil {
		err = out.Sync()
	}
	if err = errors.Join(err, out.Close()); err == nil {
		err = os.Rename(tmp, gz)
	}
	if err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	if err := os.Remove(plain); err != nil {
		return fmt.Errorf("compressed to %s, but the plain file stays: %w", gz, err)
	}
	return syncDir(dir)
}

// gzipMemberSize is how much text a gzip member of a compressed file holds
// at least: compressMembers ends one at the first line end after it. The
// index (index.go) starts reading a file at a member. A file of members is
// one gzip file to every reader (RFC 1952 §2.2); a member costs ≈ 20 bytes.
const gzipMemberSize = 1 << 20

// compressMembers writes in to out as gzip, in members of about
// gzipMemberSize bytes of text that start at a line.
func compressMembers(out io.Writer, in io.Reader) error {
	z := gzip.NewWriter(out)
	r := bufio.NewReaderSize(in, 256<<10)
	n, cut := 0, false
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 {
			if cut {
				z.Reset(out)
				n, cut = 0, false
			}
			if _, werr := z.Write(line); werr != nil {
				return werr
			}
			n += len(line)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue // the rest of a long line
		case err == io.EOF:
			return z.Close()
		case err != nil:
			return err
		}
		if n >= gzipMemberSize {
			if err := z.Close(); err != nil {
				return err
			}
			cut = true
		}
	}
}

// contextReader stops a copy when its context ends and, with a pacer,
// keeps it to the pacer's share of a core.
type contextReader struct {
	ctx  context.Context
	r    io.Reader
	pace *pacer // nil: as fast as it can
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	c.pace.wait()
	return c.r.Read(p)
}

// upkeepShare is the share of one core that compressing and indexing a
// completed file may take. Unpaced, a 1 GB file (about 6.5 minutes of
// records at 1,000 calls/s) kept one of this machine's two cores busy for
// several seconds (gzip alone: 4 s of CPU), and in the 30-minute soak the
// proxy fell behind for a minute while one was compressed and indexed
// (docs/benchmarks.md); paced, the same work takes four times as long
// beside the calls instead.
const upkeepShare = 0.25

// pacer keeps background work to a share of one core: wait, called between
// steps, sleeps in proportion to the time since the previous call returned,
// once that debt reaches minSleep (sleeping in tiny slices costs more than
// it gives back).
type pacer struct {
	rest  float64 // seconds of sleep per second of work: 1/share - 1
	debt  time.Duration
	last  time.Time
	now   func() time.Time
	sleep func(time.Duration)
}

const minSleep = 5 * time.Millisecond

func newPacer(share float64) *pacer {
	return &pacer{rest: 1/share - 1, now: time.Now, sleep: time.Sleep}
}

func (p *pacer) wait() {
	if p == nil {
		return
	}
	if !p.last.IsZero() {
		p.debt += time.Duration(float64(p.now().Sub(p.last)) * p.rest)
		if p.debt >= minSleep {
			p.sleep(p.debt)
			p.debt = 0
		}
	}
	p.last = p.now()
}

// expire deletes, oldest first, the files whose newest record is older than
// the retention period, and logs each. It stops at the first file that is
// not, and never deletes the newest file, which the writer appends to.
func (u *upkeep) expire(now time.Time) {
	if u.retain < 0 {
		return
	}
	cutoff := now.Add(-u.retain)
	files, err := logFiles(u.dir)
	if err != nil {
		u.logger.Error("audit: retention: listing the files", "dir", u.dir, "err", err)
		return
	}
	for _, f := range files[:max(len(files)-1, 0)] {
		// A file holds records of its day or later: a later day's can wait.
		if !dayStart(f.day).AddDate(0, 0, 1).Before(cutoff) {
			return
		}
		newest, err := newestTime(u.dir, f)
		if err != nil {
			u.logger.Error("audit: retention: reading a file", "file", f.path(u.dir), "err", err)
			return
		}
		if !newest.Before(cutoff) {
			return
		}
		if err := os.Remove(f.path(u.dir)); err != nil {
			u.logger.Error("audit: retention: deleting a file", "file", f.path(u.dir), "err", err)
			return
		}
		u.logger.Info("audit: deleted a file past the retention period", "file", f.path(u.dir),
			"newest_record", newest.Format(time.RFC3339), "retain_days", int(u.retain.Hours()/24))
	}
}

// newestTime is the latest time of the records in a file (a record may
// carry an earlier time than the one before it; redacted stubs carry none).
func newestTime(dir string, f logFile) (time.Time, error) {
	var newest time.Time
	err := eachLine(dir, f, func(_ position, line []byte) error {
		const prefix = `{"time":"`
		if len(line) >= len(prefix)+len(timeLayout) && string(line[:len(prefix)]) == prefix {
			if t, err := time.Parse(timeLayout, string(line[len(prefix):len(prefix)+len(timeLayout)])); err == nil && t.After(newest) {
				newest = t
			}
		}
		return nil
	})
	return newest, err
}
