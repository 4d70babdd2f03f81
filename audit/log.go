package audit

import (
	"bytes"
	"context"
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
	"golang.org/x/mod/sumdb/tlog"
)

// Options tune a Log; the zero value takes the defaults.
type Options struct {
	// Logger gets the log's own events: drops, write errors, repairs, and the
	// chain head (seq and hash) of every file completed, an anchor kept apart
	// from the files. Default slog.Default().
	Logger *slog.Logger
	// QueueSize is how many records may wait for the writer (default 65536:
	// half a minute at 2,000 calls/s). The queue holds pointers, so its
	// buffer is 512 KB; the records in it take ≈ 560 bytes each, ≈ 35 MB
	// only while it is full.
	QueueSize int
	// FlushInterval is how long a record given to Append may wait in memory
	// before it is written and fsynced (default 10ms): one write and one fsync
	// per batch, so a crash loses at most this much. AppendSync does not wait
	// for it.
	FlushInterval time.Duration
	// MaxFileSize starts a new part of the day's file once the current one
	// holds this many bytes (default 1 GiB): decisions-YYYY-MM-DD.1.jsonl,
	// .2.jsonl... Complete files are compressed (.jsonl.gz).
	MaxFileSize int64
	// Uncompressed keeps complete files as they are (for a file system that
	// compresses by itself); by default they are compressed with gzip.
	Uncompressed bool
	// Retain is how long files are kept (default 5 years, 1826 days: the
	// Telemarketing Sales Rule, 16 CFR 310.5): a file whose newest record is
	// older is deleted, oldest first, and the deletion logged. The tree and
	// the checkpoints are kept. Negative keeps every file.
	Retain time.Duration
	// Version is the build, stamped into records that carry none.
	Version string
	// Signer signs the tree's checkpoints (LoadSigner); without one the tree
	// is kept but no checkpoint is written.
	Signer note.Signer
	// CheckpointInterval is how often a signed checkpoint is written while
	// records come in (default 10s); one is also written by Close.
	CheckpointInterval time.Duration
	// OnWrite, when set, is called by the writer goroutine after each batch
	// it wrote and fsynced, with how long the write and the fsync took
	// together; it must return quickly (a metric's observation).
	OnWrite func(took time.Duration)
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
	queue   chan *queued
	stop    chan struct{} // closed by Close: the writer may be ignoring the queue
	dropped atomic.Uint64 // the queue was full
	// afterClose counts the records appended after Close.
	afterClose atomic.Uint64
	// failing holds the error the writer is stuck on (nil while writes succeed).
	failing atomic.Pointer[error]

	done     chan struct{} // closed when the writer has finished
	closeErr error
	upkeep   *upkeep

	// imported holds the import versions whose data_change record the log
	// names at Open (ImportRecorded); nil when it cannot tell.
	imported map[uint64]bool
}

// queued is a record on its way to the writer; synced, when not nil, gets
// the outcome once the record is on disk or could not be written.
type queued struct {
	Record
	synced chan error
}

// Defaults of Options.
const (
	DefaultFlushInterval = 10 * time.Millisecond
	DefaultMaxFileSize   = 1 << 30
	DefaultRetain        = 1826 * 24 * time.Hour
)

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
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	if opts.Retain == 0 {
		opts.Retain = DefaultRetain
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
	l := &Log{
		logger:  opts.Logger,
		version: opts.Version,
		queue:   make(chan *queued, opts.QueueSize),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	w, err := openWriter(dir, lock, opts, &l.failing)
	if err != nil {
		lock.Close()
		return nil, err
	}
	if w.names.known {
		l.imported = w.names.versions()
	}
	l.upkeep = startUpkeep(dir, opts, w.cur)
	w.closed = l.upkeep.closed
	go l.run(w, opts.FlushInterval, opts.CheckpointInterval)
	return l, nil
}

// ImportRecorded reports whether the log held, when it opened, the
// data_change record of the import of version (an import id), as the import
// names of import-hashes.jsonl give it: the last two imports of each data
// set. known is false when the log cannot tell: it holds records but that
// file was missing, unreadable or named a record the tree does not hold.
// A crash between an import and its record leaves the version in force
// with recorded false (docs/audit.md, "Crashes").
func (l *Log) ImportRecorded(version uint64) (recorded, known bool) {
	return l.imported[version], l.imported != nil
}

// Append queues a record and returns at once; it never blocks. When the queue
// is full the record is dropped, counted in Dropped, and the writer logs it.
// The record is on disk within FlushInterval.
func (l *Log) Append(r Record) { l.enqueue(r, nil) }

// AppendSync queues a record as Append does and returns once it is on disk
// (written and fsynced), for a caller whose answer must not leave before its
// record (audit.sync: always). Records of callers waiting at the same time
// share one write and one fsync. The error is ErrQueueFull or ErrClosed when
// the record was dropped, ErrNotWriting (wrapping the write's error) when
// the disk refused it (it stays queued in memory and is written once the
// disk takes writes again), or ctx's error when ctx ended first.
func (l *Log) AppendSync(ctx context.Context, r Record) error {
	synced := make(chan error, 1)
	if err := l.enqueue(r, synced); err != nil {
		return err
	}
	select {
	case err := <-synced:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Log) enqueue(r Record, synced chan error) error {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	if r.Version == "" {
		r.Version = l.version
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		// Counted apart: the writer reports dropped as a full queue.
		l.afterClose.Add(1)
		l.logger.Error("audit: record after Close was not logged", "kind", r.Kind, "call_id", r.CallID, "decision", r.Decision)
		return ErrClosed
	}
	if len(l.queue) == cap(l.queue) {
		// Full: dropped without allocating the record it could not take.
		l.dropped.Add(1)
		return ErrQueueFull
	}
	select {
	case l.queue <- &queued{r, synced}:
		return nil
	default:
		l.dropped.Add(1)
		return ErrQueueFull
	}
}

// Health says whether the log keeps up: nil, or an error wrapping ErrBacklog
// (more than half of the queue waits for the writer) or ErrNotWriting (the
// last write or fsync failed; records wait in memory). A gate that must not
// decide calls it cannot record refuses calls while it is not nil.
func (l *Log) Health() error {
	if n, c := len(l.queue), cap(l.queue); n > c/2 {
		return fmt.Errorf("%w: %d of %d queued records wait", ErrBacklog, n, c)
	}
	if err := l.failing.Load(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotWriting, *err)
	}
	return nil
}

// AppendEvent queues a record of another kind than a decision, with the
// fields of data (a struct or map that encodes as a JSON object), as Append
// does. An error means data is not a JSON object; nothing was queued.
func (l *Log) AppendEvent(kind string, at time.Time, data any) error {
	return l.appendEvent(Record{Kind: kind, Time: at}, data)
}

// AppendImport queues the data_change record of an import, with the fields
// of data, as AppendEvent does. The writer names the record's leaf hash in
// the decisions whose Cites hold imp.Version (their data_hashes).
func (l *Log) AppendImport(at time.Time, imp DataImport, data any) error {
	return l.appendEvent(Record{Kind: KindDataChange, Time: at, Import: imp}, data)
}

func (l *Log) appendEvent(r Record, data any) error {
	var err error
	if o, ok := data.(Outcome); ok { // one a call: spared encoding/json's check of what MarshalJSON wrote
		if o.Ended.Equal(r.Time) {
			o.Ended = Time{} // the record's time says it
		}
		r.Data, err = o.appendJSON(nil)
		r.CallID = o.CallID // the writer names the call's decision in it
	} else {
		r.Data, err = json.Marshal(data)
	}
	if err != nil {
		return fmt.Errorf("%s record: %w", r.Kind, err)
	}
	if len(r.Data) < 2 || r.Data[0] != '{' {
		return fmt.Errorf("%s record: %s is not a JSON object", r.Kind, r.Data)
	}
	l.Append(r)
	return nil
}

// Dropped counts the records Append could not queue since Open: the queue
// was full, or the log closed.
func (l *Log) Dropped() uint64 { return l.dropped.Load() + l.afterClose.Load() }

// Queued is how many records wait in the queue for the writer now (at most
// Options.QueueSize).
func (l *Log) Queued() int { return len(l.queue) }

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
	l.upkeep.stop()
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
	if len(w.pending) > 0 {       // the recovery record
		timer.Reset(interval)
		flushDue = timer.C
	}
	for {
		in := l.queue
		if len(w.pending) >= maxPending {
			in = nil
		}
		select {
		case q, ok := <-in:
			if !ok {
				l.closeErr = l.finish(w)
				return
			}
			w.add(*q)
			if len(w.pending) >= maxPending {
				w.flush(false)
			}
			if len(w.waiting) > 0 {
				// Group commit: what queued meanwhile shares this fsync.
				l.take(w)
				w.flush(true)
				w.reportDrops(l.dropped.Load())
			}
			if flushDue == nil && (len(w.pending) > 0 || w.unsynced) {
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

// take adds the records waiting in the queue, without blocking, until
// pending is full.
func (l *Log) take(w *writer) {
	for len(w.pending) < maxPending {
		select {
		case q, ok := <-l.queue:
			if !ok {
				return // closed: finish takes the rest
			}
			w.add(*q)
		default:
			return
		}
	}
}

// finish writes what is left once Close has closed the queue.
func (l *Log) finish(w *writer) error {
	for q := range l.queue {
		w.add(*q)
	}
	err := w.flush(true)
	w.reportDrops(l.dropped.Load())
	w.checkpoint(time.Now())
	if lost := bytes.Count(w.pending, []byte{'\n'}); err != nil && lost > 0 {
		err = fmt.Errorf("%d records not written to %s: %w", lost, w.file.Name(), err)
	} else if err != nil {
		err = fmt.Errorf("%s written but not synced to disk: %w", w.file.Name(), err)
	}
	w.logger.Info("audit log closed", "file", w.file.Name(), "seq", w.seq, "hash", w.last)
	return errors.Join(err, w.file.Close(), w.tree.Close(), w.lock.Close())
}

// writer is the state of the writer goroutine; nothing else touches it.
type writer struct {
	dir     string
	logger  *slog.Logger
	lock    *os.File
	maxSize int64

	file     *os.File
	cur      logFile // of file
	size     int64   // bytes written to file
	seq      uint64
	last     string // hash of the last record, for the log's messages; empty before the first
	pending  []byte // encoded records not yet written to file
	unsynced bool   // file has writes not yet fsynced
	// waiting get the outcome of the records in pending and unsynced that
	// AppendSync gave.
	waiting []chan error
	hasher  leafHasher
	// closed takes each file the writer completes, for compression.
	closed chan<- logFile

	tree  *tree
	salts *rand.ChaCha8 // seeded from crypto/rand: a CSPRNG at ≈ 20 ns a salt
	names *recordNames  // the leaf hashes later records name (names.go)
	named []tlog.Hash   // scratch for a record's names
	// signer signs checkpoints (nil: none); checkpointed is the size of the
	// last one written.
	signer       note.Signer
	checkpointed int64

	// err is the write error the log is stuck on; records stay in pending
	// and files do not rotate until a write succeeds again. failing shows
	// it to Log.Health.
	err           error
	failing       *atomic.Pointer[error]
	reportedDrops uint64
	onWrite       func(time.Duration) // Options.OnWrite
}

func openWriter(dir string, lock *os.File, opts Options, failing *atomic.Pointer[error]) (*writer, error) {
	files, err := logFiles(dir)
	if err != nil {
		return nil, err
	}
	seq, last, recovered, err := resume(dir, files, opts.Logger)
	if err != nil {
		return nil, err
	}
	// Files never go back in time: a clock set back keeps writing the newest.
	cur := logFile{day: dayOf(time.Now())}
	if len(files) > 0 && files[len(files)-1].day >= cur.day {
		cur = files[len(files)-1].plain()
		if files[len(files)-1].gz { // complete: the day goes on in a new part
			cur.part++
		}
	}
	t, err := openTree(dir, files, seq)
	if err != nil {
		return nil, err
	}
	f, err := openForAppend(dir, cur)
	if err != nil {
		t.Close()
		return nil, err
	}
	info, err := f.Stat()
	var seed [32]byte
	if err == nil {
		_, err = cryptorand.Read(seed[:])
	}
	if err != nil {
		t.Close()
		f.Close()
		return nil, err
	}
	n, err := loadNames(dir)
	if seq == 0 { // an empty log names no import, rightly: say so on disk
		n.known, n.dirty = true, true
	}
	if err != nil {
		opts.Logger.Warn("audit: the import hashes are not read; decisions name their imports again after the next ones",
			"file", importHashesFile, "err", err)
	}
	for _, h := range n.keepProven(t.file, t.size()) {
		opts.Logger.Warn("audit: an import hash is not the hash of its record in the tree; decisions name that data set's imports again after its next one",
			"file", importHashesFile, "data_set", h.Set, "version", h.Version, "seq", h.Seq, "hash", h.Hash)
	}
	w := &writer{dir: dir, logger: opts.Logger, lock: lock, maxSize: opts.MaxFileSize, file: f, cur: cur, size: info.Size(),
		seq: seq, last: last, tree: t, salts: rand.NewChaCha8(seed), names: n, signer: opts.Signer, failing: failing, onWrite: opts.OnWrite}
	if cs, err := Checkpoints(dir, nil); err == nil && len(cs) > 0 {
		w.checkpointed = cs[len(cs)-1].Size
	}
	opts.Logger.Info("audit log open", "file", f.Name(), "seq", seq, "hash", last, "tree_size", t.size())
	if recovered != nil {
		data, _ := json.Marshal(recovered) // strings and ints: cannot fail
		w.add(queued{Record: Record{Kind: KindRecovery, Time: time.Now(), Version: opts.Version, Data: data}})
	}
	return w, nil
}

// add numbers, hashes and encodes one record into pending.
func (w *writer) add(q queued) {
	r := q.Record
	// Rotate by the record's own date, but never back: a record stamped just
	// before midnight that arrives after one stamped just after it goes into
	// the new day's file, so that files follow seq. A file that reached its
	// size goes on in the day's next part.
	if day := dayOf(r.Time); day > w.cur.day && w.err == nil {
		w.rotate(logFile{day: day})
	} else if w.size+int64(len(w.pending)) >= w.maxSize && w.err == nil {
		w.rotate(logFile{day: w.cur.day, part: w.cur.part + 1})
	}
	w.seq++
	var salt [16]byte
	w.salts.Read(salt[:])
	var saltHex [32]byte
	hex.Encode(saltHex[:], salt[:])
	r.Seq, r.Salt, r.Prev, r.Hash = w.seq, string(saltHex[:]), "", ""
	decision := r.Kind == "" || r.Kind == KindDecision
	switch {
	case decision && len(r.Cites) > 0:
		w.named = w.names.dataHashes(w.named[:0], r.Cites)
		r.named = w.named
	case r.Kind == KindOutcome && r.CallID != "":
		if leaf, ok := w.names.ended(r.CallID); ok {
			w.named = append(w.named[:0], leaf)
			r.named = w.named
		}
	}
	start := len(w.pending)
	w.pending = r.appendJSON(w.pending)
	leaf := w.hasher.leaf(w.pending[start : len(w.pending)-1])
	hash := hexHash(leaf)
	w.pending = append(w.pending[:len(w.pending)-1], hashField...)
	w.pending = append(w.pending, hash[:]...)
	w.pending = append(w.pending, "\"}\n"...)
	w.last = string(hash[:])
	w.tree.add(leaf)
	switch {
	case decision && r.Decision == "allow" && r.CallID != "":
		w.names.decided(r.CallID, leaf)
	case r.Import.Version != 0:
		w.names.imported(r.Import, r.Seq, leaf)
	}
	if q.synced != nil {
		w.waiting = append(w.waiting, q.synced)
	}
}

func (w *writer) rotate(next logFile) {
	if w.flush(true) != nil {
		return
	}
	f, err := openForAppend(w.dir, next)
	if err != nil {
		w.fail(err)
		return
	}
	w.logger.Info("audit file complete", "file", w.file.Name(), "seq", w.seq, "hash", w.last)
	if err := w.file.Close(); err != nil {
		w.logger.Error("audit: closing a complete file", "file", w.file.Name(), "err", err)
	}
	if w.closed != nil {
		select {
		case w.closed <- w.cur:
		default: // compression is behind: the next start compresses it
		}
	}
	w.file, w.cur, w.size = f, next, 0
}

// flush writes pending in one write and, if sync, fsyncs the file. On an
// error the unwritten rest stays in pending for the next try.
func (w *writer) flush(sync bool) error {
	start := time.Now()
	if len(w.pending) > 0 {
		n, err := w.file.Write(w.pending)
		w.pending = w.pending[:copy(w.pending, w.pending[n:])]
		w.size += int64(n)
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
		if w.onWrite != nil {
			w.onWrite(time.Since(start))
		}
	}
	if sync && len(w.pending) == 0 {
		w.notify(nil)
		// Only records on disk get into the tree's file: a crash must never
		// leave the tree holding a record the files lost.
		if err := w.tree.flush(); err != nil {
			w.logger.Error("audit: writing the Merkle tree; it is rebuilt from the records at the next start",
				"file", treeFileName, "err", err)
		}
		// Likewise the import names: only of records on disk.
		if err := w.names.save(); err != nil {
			w.logger.Error("audit: writing the import hashes; decisions name the imports made from now on",
				"file", importHashesFile, "err", err)
		}
	}
	if w.err != nil {
		w.logger.Info("audit: writing again", "file", w.file.Name(), "after", w.err)
		w.err = nil
		w.failing.Store(nil)
	}
	return nil
}

// notify tells the AppendSync callers waiting how their records fared.
func (w *writer) notify(err error) {
	for _, c := range w.waiting {
		c <- err
	}
	w.waiting = w.waiting[:0]
}

// fail logs the first error of an outage; later ones would repeat it every
// FlushInterval. Callers waiting for their records learn of it at once.
func (w *writer) fail(err error) error {
	if w.err == nil {
		w.logger.Error("audit: cannot write the decision log; records wait in memory and in the queue",
			"dir", w.dir, "err", err)
	}
	w.err = err
	w.failing.Store(&err)
	w.notify(fmt.Errorf("%w: %w", ErrNotWriting, err))
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
