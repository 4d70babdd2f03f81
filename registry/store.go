package registry

import (
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/ristretto/v2/z"
)

// Store is the registry. Its methods are safe for concurrent use; imports run one at a time.
type Store struct {
	db   *badger.DB
	opts Options
	// catalog holds every list as lookups see it. Lookups read it without a
	// lock; imports and live changes publish a new one.
	catalog atomic.Pointer[catalog]
	// writeMu serializes imports, folds and the removal of stale data.
	writeMu sync.Mutex
	// publishMu serializes changes to the catalog: the switch at the end of
	// an import and live changes. It is held for milliseconds, so a live
	// opt-out never waits for an import that is reading its files.
	publishMu sync.Mutex
	// cacheBudget is the bytes the exchange caches may still take.
	cacheBudget atomic.Int64
	// warm makes imports fill the cache of the versions they make (see Warm).
	warm atomic.Bool
	// sets are the data sets beside the lists (datasets.go).
	sets dataSets
	// abandonMu serializes the abandonment counts' read-add-write (abandonment.go).
	abandonMu sync.Mutex
	// abandoned answers Abandonment from memory (abandonment.go).
	abandoned abandonmentCache
}

// Listing says that a list holds a number, and in which version.
type Listing struct {
	List    string `json:"list"`
	Version uint64 `json:"version"`
}

// Open opens (or creates) the registry in opts.Dir and removes what an
// interrupted import left behind. It fails with ErrLocked when another
// process has the directory open. Its errors do not name the directory: the
// caller knows it.
func Open(opts Options) (*Store, error) {
	db, err := badger.Open(badgerOptions(opts.Dir))
	if err != nil && strings.Contains(err.Error(), z.NewFile.Error()) {
		// A crash between creating a memtable file and sizing it leaves it
		// empty, and Badger's Open then fails with z.NewFile, formatted into
		// its text (dgraph-io/badger#2207). That attempt has sized the
		// file; the second replays it as the empty memtable it is.
		db, err = badger.Open(badgerOptions(opts.Dir))
	}
	if err != nil {
		// Badger formats this error without wrapping it, so only its text tells.
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, ErrLocked
		}
		return nil, err
	}
	s := &Store{db: db, opts: opts}
	s.cacheBudget.Store(opts.CacheSize)
	if err := s.loadCatalog(); err != nil {
		db.Close()
		return nil, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.removeStaleVersions(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.loadDataSets(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// badgerOptions tunes Badger for a store that a proxy reads on every call and
// an import rewrites a few times a day. Badger's defaults (5 × 64 MB
// memtables, a 256 MB block cache, 4 compactors, Snappy) suit a write-heavy
// server and would dominate the proxy's memory.
func badgerOptions(dir string) badger.Options {
	return badger.DefaultOptions(dir).
		WithInMemory(dir == "").
		// Writes come in import batches, live changes and attempt counters;
		// two 8 MB memtables absorb them. Larger ones cost the serving process
		// ~10 MB each and make flushes build larger tables (~60 MB of buffers
		// per flush at 16 MB). A transaction may hold 15% of a memtable:
		// 1.2 MB, enough for a live change of maxLiveNumbers numbers.
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		// Uncompressed tables are read straight from the mmapped files, so
		// the OS page cache serves lookups and no block cache is needed; the
		// exchange bitmaps are already compact and barely compress further.
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithNumCompactors(2). // Badger's minimum; the machine has 2 cores and the proxy needs them.
		// Values (≤ 1,251 B; change list chunks ≤ 512 KB) stay in the LSM
		// tree; the value log only carries larger ones, so a small file size
		// keeps it from reserving 1 GB.
		WithValueLogFileSize(64 << 20).
		// Imports run one at a time under Store.writeMu: no conflict tracking needed.
		WithDetectConflicts(false).
		WithMetricsEnabled(false).
		WithLogger(badgerLogger{})
}

// Close closes the database, waiting for an import or live change in progress to end.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	return s.db.Close()
}

// readTxn opens a read transaction in which the data cat names is complete.
// Data is deleted only after a newer catalog is published; if cat is still
// the current one once the transaction is open, that deletion comes after
// the transaction's snapshot. A nil cat skips the check: the caller holds
// writeMu, so nothing it reads can be deleted meanwhile.
func (s *Store) readTxn(cat *catalog) (*badger.Txn, error) {
	txn := s.db.NewTransaction(false)
	if cat != nil && s.catalog.Load() != cat {
		txn.Discard()
		return nil, errMoved
	}
	return txn, nil
}

// Listed reports whether the E.164 number is on the named list, and the
// list's version that answered (ListInfo.Version: 0 when it was never
// imported). Both come from one published state of the list, so an import
// switching versions meanwhile cannot pair the answer with the other
// version. A list that was never imported holds no number.
func (s *Store) Listed(name, e164 string) (listed bool, version uint64, err error) {
	l, listed, err := s.listState(name, parseNum(e164))
	if l == nil {
		return false, 0, err
	}
	return listed, l.rec.Info.Version, err
}

// listState asks the named list's current state whether it holds n, and
// returns that state with the answer: its version and layers are the ones
// that answered. l is nil when there is no such list.
func (s *Store) listState(name string, n num) (l *list, listed bool, err error) {
	for {
		cat := s.catalog.Load()
		if l = cat.lists[name]; l == nil {
			return nil, false, nil
		}
		if listed, err = s.holds(cat, l, n); err != errMoved {
			return l, listed, err
		}
	}
}

// holds asks the layers of a list, top first.
func (s *Store) holds(cat *catalog, l *list, n num) (bool, error) {
	if listed, ok := l.live.decides(n); ok {
		return listed, nil
	}
	return s.importedHolds(cat, l, n)
}

// importedHolds asks the imported layers: change lists, then the full version.
func (s *Store) importedHolds(cat *catalog, l *list, n num) (bool, error) {
	for _, d := range l.deltas {
		if listed, ok := d.decides(n); ok {
			return listed, nil
		}
	}
	if l.rec.BaseStorage == 0 {
		return false, nil
	}
	if !n.nanp {
		return s.foreignStored(cat, l.rec.BaseStorage, n.e164)
	}
	if !l.filter.Contains(n.exchange) {
		return false, nil
	}
	if value := l.cache.get(n.exchange); value != nil {
		listed, err := exchangeHas(value, n.line)
		runtime.KeepAlive(l.cache) // its memory stays mapped until here
		return listed, err
	}
	txn, err := s.readTxn(cat)
	if err != nil {
		return false, err
	}
	defer txn.Discard()
	item, err := txn.Get(exchangeKey(make([]byte, 0, 16), l.rec.BaseStorage, n.exchange))
	if err != nil {
		// The filter says the exchange is there: its absence is an error.
		return false, fmt.Errorf("exchange %d of storage %d: %w", n.exchange, l.rec.BaseStorage, err)
	}
	var listed bool
	err = item.Value(func(v []byte) (err error) {
		listed, err = exchangeHas(v, n.line)
		if err == nil {
			l.cache.put(n.exchange, v)
		}
		return err
	})
	return listed, err
}

func (s *Store) foreignStored(cat *catalog, storage uint64, e164 string) (bool, error) {
	txn, err := s.readTxn(cat)
	if err != nil {
		return false, err
	}
	defer txn.Discard()
	_, err = txn.Get(foreignKey(nil, storage, e164))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// ListDate returns the list's current version and the date its data is as
// of (its source date, else its import time); ok is false when nothing was
// ever imported into it (live changes alone do not date a list).
func (s *Store) ListDate(name string) (version uint64, asOf time.Time, ok bool) {
	l := s.catalog.Load().lists[name]
	if l == nil || l.rec.Info.Version == 0 {
		return 0, time.Time{}, false
	}
	return l.rec.Info.Version, l.rec.Info.AsOf(), true
}

// Lists returns every list, by name.
func (s *Store) Lists() ([]ListInfo, error) {
	return s.catalog.Load().sorted(), nil
}

// listNamePattern keeps list names printable and usable in keys, paths and logs.
var listNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckListName returns an error that says why name cannot name a list.
func CheckListName(name string) error {
	if !listNamePattern.MatchString(name) {
		return fmt.Errorf("list name %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}
