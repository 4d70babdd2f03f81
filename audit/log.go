package audit

import (
	"bytes"
	cryptorand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Options tune a Log; the zero value takes the defaults.
type Options struct {
	// Logger gets the log's own events: drops, write errors, repairs, and the
	// chain head (seq and hash) of every file completed, an anchor kept apart
	// from the files. Default slog.Default().
	Logger *slog.Logger
	// QueueSize is how many records may wait for the writer (default 65536:
	// half a minute at 2,000 calls/s; a full queue holds ≈ 20 MB).
	QueueSize int
	// FlushInterval is how long a record may wait in memory before it is
	// written and fsynced (default 200ms): one write and one fsync per batch.
	FlushInterval time.Duration
	// Version is the build, stamped into records that carry none.
	Version string
	// Signer signs the tree's checkpoints (LoadSigner); without one the tree
	// is kept but no checkpoint is written.
	Signer note.Signer
	// CheckpointInterval is how often a signed checkpoint is written while
	// records come in (default 10s); one is also written by Close.
	CheckpointInterval time.Duration
}

// Log appends records to the decision files of one directory. Append may be
// called from any goroutine; one writer goroutine encodes, chains and writes.
type Log struct {
	logger  *slog.Logger
	version string

	// mu is held shared by Append and exclusively by Close, so that no Append
	// sends on the queue after Close closed it.
	mu      sync.RWMutex
	closed  bool
	queue   chan Record
	stop    chan struct{} // closed by Close: the writer may be ignoring the queue
	dropped atomic.Uint64

	done     chan struct{} // closed when the writer has finished
	closeErr error
}

// Open opens the log in dir, creating dir if needed, and continues the chain
// from the last complete record on disk. It fails with ErrLocked when another
// writer holds dir.
func Open(dir string, opts Options) (*Log, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 65536
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 200 * time.Millisecond
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = 10 * time.Second
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	w, err := openWriter(dir, lock, opts)
	if err != nil {
		lock.Close()
		return nil, err
	}
	l := &Log{
		logger:  opts.Logger,
		version: opts.Version,
		queue:   make(chan Record, opts.QueueSize),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go l.run(w, opts.FlushInterval, opts.CheckpointInterval)
	return l, nil
}

// Append queues a record and returns at once; it never blocks. When the queue
// is full the record is dropped, counted in Dropped, and the writer logs it.
func (l *Log) Append(r Record) {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	if r.Version == "" {
		r.Version = l.version
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.dropped.Add(1)
		l.logger.Error("audit: decision after Close was not logged", "call_id", r.CallID, "decision", r.Decision)
		return
	}
	select {
	case l.queue <- r:
	default:
		l.dropped.Add(1)
	}
}

// AppendEvent queues a record of another kind than a decision, with the
// fields of data (a struct or map that encodes as a JSON object), as Append
// does. An error means data is not a JSON object; nothing was queued.
func (l *Log) AppendEvent(kind string, at time.Time, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("%s record: %w", kind, err)
	}
	if len(raw) < 2 || raw[0] != '{' {
		return fmt.Errorf("%s record: %s is not a JSON object", kind, raw)
	}
	l.Append(Record{Kind: kind, Time: at, Data: raw})
	return nil
}

// Dropped counts the records Append could not queue since Open.
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// Close writes and fsyncs everything queued, then closes the files. Appends
// after Close are dropped. An error means records were lost; it says how many.
func (l *Log) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.queue)
		close(l.stop)
	}
	l.mu.Unlock()
	<-l.done
	return l.closeErr
}

// maxPending bounds the encoded bytes kept in memory: a batch is written once
// it is this large, and while the disk refuses writes, records wait in the
// queue instead (where Append drops them once it is full).
const maxPending = 1 << 20

func (l *Log) run(w *writer, interval, checkpointEvery time.Duration) {
	defer close(l.done)
	timer := time.NewTimer(interval)
	timer.Stop()
	checkpoints := time.NewTicker(checkpointEvery)
	defer checkpoints.Stop()
	var flushDue <-chan time.Time // nil while nothing waits to be written
	for {
		in := l.queue
		if len(w.pending) >= maxPending {
			in = nil
		}
		select {
		case r, ok := <-in:
			if !ok {
				l.closeErr = l.finish(w)
				return
			}
			w.add(r)
			if len(w.pending) >= maxPending {
				w.flush(false)
			}
			if flushDue == nil {
				timer.Reset(interval)
				flushDue = timer.C
			}
		case <-flushDue:
			flushDue = nil
			w.flush(true)
			w.reportDrops(l.dropped.Load())
			if len(w.pending) > 0 || w.unsynced { // the write or fsync failed: try again
				timer.Reset(interval)
				flushDue = timer.C
			}
		case now := <-checkpoints.C:
			w.checkpoint(now)
		case <-l.stop:
			l.closeErr = l.finish(w)
			return
		}
	}
}

// finish writes what is left once Close has closed the queue.
func (l *Log) finish(w *writer) error {
	for r := range l.queue {
		w.add(r)
	}
	err := w.flush(true)
	w.reportDrops(l.dropped.Load())
	w.checkpoint(time.Now())
	if lost := bytes.Count(w.pending, []byte{'\n'}); err != nil && lost > 0 {
		err = fmt.Errorf("%d records not written to %s: %w", lost, w.file.Name(), err)
	} else if err != nil {
		err = fmt.Errorf("%s written but not synced to disk: %w", w.file.Name(), err)
	}
	w.logger.Info("audit log closed", "file", w.file.Name(), "seq", w.seq, "hash", w.prev)
	return errors.Join(err, w.file.Close(), w.tree.Close(), w.lock.Close())
}

// writer is the state of the writer goroutine; nothing else touches it.
type writer struct {
	dir    string
	logger *slog.Logger
	lock   *os.File

	file     *os.File
	day      int // of file
	seq      uint64
	prev     string // hash of the last record, empty before the first
	pending  []byte // encoded records not yet written to file
	unsynced bool   // file has writes not yet fsynced
	scratch  []byte

	tree  *tree
	salts *rand.ChaCha8 // seeded from crypto/rand: a CSPRNG at ≈ 20 ns a salt
	// signer signs checkpoints (nil: none); checkpointed is the size of the
	// last one written.
	signer       note.Signer
	checkpointed int64

	// err is the write error the log is stuck on; records stay in pending
	// and files do not rotate until a write succeeds again.
	err           error
	reportedDrops uint64
}

func openWriter(dir string, lock *os.File, opts Options) (*writer, error) {
	days, err := dayFiles(dir)
	if err != nil {
		return nil, err
	}
	seq, prev, err := resume(dir, days, opts.Logger)
	if err != nil {
		return nil, err
	}
	// Files never go back in time: a clock set back keeps writing the newest.
	day := dayOf(time.Now())
	if len(days) > 0 {
		day = max(day, days[len(days)-1])
	}
	t, err := openTree(dir, days, seq)
	if err != nil {
		return nil, err
	}
	f, err := openDayFile(dir, day)
	if err != nil {
		t.Close()
		return nil, err
	}
	var seed [32]byte
	if _, err := cryptorand.Read(seed[:]); err != nil {
		t.Close()
		f.Close()
		return nil, err
	}
	w := &writer{dir: dir, logger: opts.Logger, lock: lock, file: f, day: day, seq: seq, prev: prev,
		tree: t, salts: rand.NewChaCha8(seed), signer: opts.Signer}
	if cs, err := Checkpoints(dir, nil); err == nil && len(cs) > 0 {
		w.checkpointed = cs[len(cs)-1].Size
	}
	opts.Logger.Info("audit log open", "file", f.Name(), "seq", seq, "hash", prev, "tree_size", t.size())
	return w, nil
}

// add numbers, chains and encodes one record into pending.
func (w *writer) add(r Record) {
	// Rotate by the record's own date, but never back: a record stamped just
	// before midnight that arrives after one stamped just after it goes into
	// the new day's file, so that files follow seq.
	if day := dayOf(r.Time); day > w.day && w.err == nil {
		w.rotate(day)
	}
	w.seq++
	var salt [16]byte
	w.salts.Read(salt[:])
	var saltHex [32]byte
	hex.Encode(saltHex[:], salt[:])
	r.Seq, r.Salt, r.Prev, r.Hash = w.seq, string(saltHex[:]), w.prev, ""
	start := len(w.pending)
	w.pending = r.appendJSON(w.pending)
	leaf := leafHash(&w.scratch, w.pending[start:])
	hash := hexHash(leaf)
	w.pending = append(w.pending[:len(w.pending)-1], hashField...)
	w.pending = append(w.pending, hash[:]...)
	w.pending = append(w.pending, "\"}\n"...)
	w.prev = string(hash[:])
	w.tree.add(leaf)
}

func (w *writer) rotate(day int) {
	if w.flush(true) != nil {
		return
	}
	f, err := openDayFile(w.dir, day)
	if err != nil {
		w.fail(err)
		return
	}
	w.logger.Info("audit file complete", "file", w.file.Name(), "seq", w.seq, "hash", w.prev)
	if err := w.file.Close(); err != nil {
		w.logger.Error("audit: closing a complete file", "file", w.file.Name(), "err", err)
	}
	w.file, w.day = f, day
}

// flush writes pending in one write and, if sync, fsyncs the file. On an
// error the unwritten rest stays in pending for the next try.
func (w *writer) flush(sync bool) error {
	if len(w.pending) > 0 {
		n, err := w.file.Write(w.pending)
		w.pending = w.pending[:copy(w.pending, w.pending[n:])]
		if n > 0 {
			w.unsynced = true
		}
		if err != nil {
			return w.fail(err)
		}
		if cap(w.pending) > 4*maxPending { // let go of what a long outage grew
			w.pending = nil
		}
	}
	if sync && w.unsynced {
		if err := w.file.Sync(); err != nil {
			return w.fail(err)
		}
		w.unsynced = false
	}
	if sync && len(w.pending) == 0 {
		// Only records on disk get into the tree's file: a crash must never
		// leave the tree holding a record the files lost.
		if err := w.tree.flush(); err != nil {
			w.logger.Error("audit: writing the Merkle tree; it is rebuilt from the records at the next start",
				"file", treeFileName, "err", err)
		}
	}
	if w.err != nil {
		w.logger.Info("audit: writing again", "file", w.file.Name(), "after", w.err)
		w.err = nil
	}
	return nil
}

// fail logs the first error of an outage; later ones would repeat it every
// FlushInterval.
func (w *writer) fail(err error) error {
	if w.err == nil {
		w.logger.Error("audit: cannot write the decision log; records wait in memory and in the queue",
			"dir", w.dir, "err", err)
	}
	w.err = err
	return err
}

// checkpoint signs and writes a checkpoint of the tree if it grew since the
// last one and all its records are on disk.
func (w *writer) checkpoint(now time.Time) {
	if w.signer == nil || w.tree.size() == w.checkpointed || len(w.pending) > 0 || w.unsynced || len(w.tree.pending) > 0 {
		return
	}
	c, err := signCheckpoint(w.signer, w.tree.size(), w.tree.root(), now)
	if err == nil {
		err = w.tree.file.f.Sync()
	}
	if err == nil {
		err = appendCheckpoint(w.dir, c)
	}
	if err != nil {
		w.logger.Error("audit: writing a checkpoint", "size", c.Size, "err", err)
		return
	}
	w.checkpointed = c.Size
}

func (w *writer) reportDrops(total uint64) {
	if total > w.reportedDrops {
		// seq places the gap: dropped records never get a seq, so the chain
		// itself cannot show them.
		w.logger.Error("audit: queue full, decisions were not logged",
			"dropped", total-w.reportedDrops, "total", total, "file", w.file.Name(), "seq", w.seq)
		w.reportedDrops = total
	}
}
