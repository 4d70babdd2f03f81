// Package registry stores the named Do-Not-Call lists the policy asks about,
// in an embedded Badger database. It knows no rules: it answers whether a
// number is on a list, and which version of the list said so.
package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/gatekeeper-sip/gatekeeper/number"
)

// ErrLocked means another process (usually a running `gatekeeper serve`) has the data directory open.
var ErrLocked = errors.New("registry: the data directory is in use by another process")

// Store is the registry. Its methods are safe for concurrent use; imports run one at a time.
type Store struct {
	db *badger.DB
	// catalog holds the current version of every list. Lookups read it
	// without a lock; an import replaces it after switching versions.
	catalog atomic.Pointer[catalog]
	// writeMu serializes imports and the cleanup of stale versions.
	writeMu sync.Mutex
}

// ListInfo describes the current version of a list.
type ListInfo struct {
	Name string `json:"name"`
	// Version is the id of this import; ids are unique across lists and only grow.
	Version    uint64       `json:"version"`
	Count      int64        `json:"count"`
	ImportedAt time.Time    `json:"imported_at"`
	Sources    []SourceFile `json:"sources"`
}

// SourceFile is one file a version was imported from.
type SourceFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Listing says that a list holds a number, and in which version.
type Listing struct {
	List    string `json:"list"`
	Version uint64 `json:"version"`
}

// catalog is immutable once published.
type catalog struct {
	lists map[string]ListInfo
}

// Open opens (or creates) the registry in dir and removes what an
// interrupted import left behind. It fails with ErrLocked when another
// process has dir open.
func Open(dir string) (*Store, error) {
	db, err := badger.Open(badgerOptions(dir))
	if err != nil {
		// Badger formats this error without wrapping it, so only its text tells.
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("registry: open %s: %w", dir, err)
	}
	s := &Store{db: db}
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
	return s, nil
}

// badgerOptions tunes Badger for a store that a proxy reads on every call and
// an import rewrites a few times a day. Badger's defaults (5 × 64 MB
// memtables, a 256 MB block cache, 4 compactors, Snappy) suit a write-heavy
// server and would dominate the proxy's memory.
func badgerOptions(dir string) badger.Options {
	return badger.DefaultOptions(dir).
		// Writes come in import batches; two 16 MB memtables absorb them.
		// (A transaction may hold 15% of a memtable: 2.4 MB, ~1,900 exchange bitmaps.)
		WithMemTableSize(16 << 20).
		WithNumMemtables(2).
		// Uncompressed tables are read straight from the mmapped files, so
		// the OS page cache serves lookups and no block cache is needed; the
		// exchange bitmaps are already compact and barely compress further.
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithNumCompactors(2). // Badger's minimum; the machine has 2 cores and the proxy needs them.
		// Values (≤ 1,251 B) stay in the LSM tree; the value log only carries
		// large values, so a small file size keeps it from reserving 1 GB.
		WithValueLogFileSize(64 << 20).
		// Imports run one at a time under Store.writeMu: no conflict tracking needed.
		WithDetectConflicts(false).
		WithMetricsEnabled(false).
		WithLogger(badgerLogger{})
}

// Close closes the database, waiting for an import in progress to end.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.db.Close()
}

func (s *Store) loadCatalog() error {
	lists := map[string]ListInfo{}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(listPrefix), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var info ListInfo
			err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &info) })
			if err != nil {
				return fmt.Errorf("registry: list record %q: %w", it.Item().Key(), err)
			}
			lists[info.Name] = info
		}
		return nil
	})
	s.catalog.Store(&catalog{lists: lists})
	return err
}

// snapshot returns a read transaction and the catalog it agrees with. The
// catalog is read both before and after the transaction starts; when both
// reads agree, the versions it names were complete before the transaction's
// snapshot and cannot be deleted inside it (an old version is only deleted
// after the catalog has moved past it). So a lookup never sees a version
// half written or half deleted, without a lock.
func (s *Store) snapshot() (*badger.Txn, *catalog) {
	cat := s.catalog.Load()
	for {
		txn := s.db.NewTransaction(false)
		now := s.catalog.Load()
		if now == cat {
			return txn, cat
		}
		txn.Discard()
		cat = now
	}
}

// Listed reports whether the E.164 number is on the current version of the
// named list. A list that was never imported holds no number (see HasList).
func (s *Store) Listed(list, e164 string) (bool, error) {
	txn, cat := s.snapshot()
	defer txn.Discard()
	info, ok := cat.lists[list]
	if !ok {
		return false, nil
	}
	return holds(txn, info.Version, e164)
}

// HasList reports whether a list of that name has been imported.
func (s *Store) HasList(list string) bool {
	_, ok := s.catalog.Load().lists[list]
	return ok
}

// Lookup returns the lists that hold the E.164 number, by name, read from
// one consistent snapshot.
func (s *Store) Lookup(e164 string) ([]Listing, error) {
	txn, cat := s.snapshot()
	defer txn.Discard()
	listings := []Listing{}
	for _, info := range cat.sorted() {
		ok, err := holds(txn, info.Version, e164)
		if err != nil {
			return nil, fmt.Errorf("registry: list %s: %w", info.Name, err)
		}
		if ok {
			listings = append(listings, Listing{List: info.Name, Version: info.Version})
		}
	}
	return listings, nil
}

// Lists returns the current version of every list, by name.
func (s *Store) Lists() ([]ListInfo, error) {
	return s.catalog.Load().sorted(), nil
}

func (c *catalog) sorted() []ListInfo {
	out := make([]ListInfo, 0, len(c.lists))
	for _, info := range c.lists {
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b ListInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// holds is the lookup itself: one Get, plus a bit test for NANP numbers.
func holds(txn *badger.Txn, version uint64, e164 string) (bool, error) {
	exchange, line, nanp := number.SplitNANP(e164)
	key := make([]byte, 0, 32) // the Item keeps it, so it is a heap allocation either way
	if nanp {
		key = exchangeKey(key, version, exchange)
	} else {
		key = foreignKey(key, version, e164)
	}
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil || !nanp {
		return err == nil, err
	}
	listed := false
	err = item.Value(func(v []byte) (err error) {
		listed, err = exchangeHas(v, line)
		return err
	})
	return listed, err
}

// listNamePattern keeps list names printable and usable in keys, paths and logs.
var listNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func checkListName(name string) error {
	if !listNamePattern.MatchString(name) {
		return fmt.Errorf("list name %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}
