package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/dgraph-io/badger/v4"

	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// ListInfo describes a list: the import now in force and what lies under it.
type ListInfo struct {
	Name string `json:"name"`
	// Version is the id of the last import applied to the list, full or
	// change list; decisions cite it. Ids are unique across lists and only
	// grow; 0 means the list only holds live changes.
	Version        uint64       `json:"version"`
	ImportID       string       `json:"import_id,omitempty"` // ImportRequest.ID of the last import applied
	Count          int64        `json:"count"`               // numbers the imported data lists, live changes aside
	ImportedAt     time.Time    `json:"imported_at"`
	SourceDate     string       `json:"source_date,omitempty"`      // YYYY-MM-DD the data is as of
	SourceDateFrom string       `json:"source_date_from,omitempty"` // how SourceDate was found
	Sources        []SourceFile `json:"sources"`
	Delta          bool         `json:"delta,omitempty"` // the last import was a change list (--delta)
	Added          int64        `json:"added,omitempty"` // numbers the last import added, when a change list
	Removed        int64        `json:"removed,omitempty"`
	Invalid        int64        `json:"invalid,omitempty"` // lines skipped (--skip-invalid)
	InvalidReport  string       `json:"invalid_report,omitempty"`
	Base           uint64       `json:"base,omitempty"`   // the full import underneath
	Deltas         []uint64     `json:"deltas,omitempty"` // change lists applied since, oldest first
	Bytes          int64        `json:"bytes"`            // the imported data's size on disk
	Live           LiveCounts   `json:"live"`
}

// LiveCounts counts the live changes in force on a list.
type LiveCounts struct {
	Added   int64 `json:"added"`
	Removed int64 `json:"removed"`
}

// SourceFile is one file a version was imported from.
type SourceFile struct {
	Name    string          `json:"name"`
	Size    int64           `json:"size"`
	SHA256  string          `json:"sha256"`
	Entries []formats.Entry `json:"entries"` // the file, or the lists inside a zip archive, and how each was read
}

// AsOf is the date the list's data is as of: its source date, or else the import time.
func (l ListInfo) AsOf() time.Time {
	if d, err := formats.ParseDay(l.SourceDate); err == nil {
		return d.Time()
	}
	return l.ImportedAt
}

// listRecord is a list's state as stored under list/NAME.
type listRecord struct {
	Info ListInfo `json:"info"` // Live is kept in memory only
	// BaseStorage holds the exchange bitmaps of the full version (the base
	// import's id, or a later id when change lists were folded into it); 0: none.
	BaseStorage uint64 `json:"base_storage,omitempty"`
	BaseBytes   int64  `json:"base_bytes,omitempty"`
	// DeltaStorage holds the change lists not folded into the base yet, oldest first.
	DeltaStorage []uint64 `json:"delta_storage,omitempty"`
	DeltaBytes   int64    `json:"delta_bytes,omitempty"`
}

// storages lists the storage ids the list's data lives under.
func (r *listRecord) storages() []uint64 {
	ids := slices.Clone(r.DeltaStorage)
	if r.BaseStorage != 0 {
		ids = append(ids, r.BaseStorage)
	}
	return ids
}

// list is a list as lookups see it; it is never modified once published.
type list struct {
	rec    listRecord
	filter *roaring.Bitmap // the exchanges the base holds; nil without a base
	cache  *exchangeCache  // the base's exchanges read so far; nil without a base
	deltas []*changeSet    // change lists over the base, newest first
	live   *changeSet      // live changes, over everything
}

func (l *list) info() ListInfo {
	info := l.rec.Info
	info.Live = LiveCounts{
		Added:   int64(l.live.adds.GetCardinality()) + int64(len(l.live.foreignAdds)),
		Removed: int64(l.live.removes.GetCardinality()) + int64(len(l.live.foreignRemoves)),
	}
	return info
}

// catalog is every list, as one published whole.
type catalog struct {
	lists map[string]*list
}

func (c *catalog) with(name string, l *list) *catalog {
	lists := maps.Clone(c.lists)
	lists[name] = l
	return &catalog{lists: lists}
}

func (c *catalog) sorted() []ListInfo {
	out := make([]ListInfo, 0, len(c.lists))
	for _, l := range c.lists {
		out = append(out, l.info())
	}
	slices.SortFunc(out, func(a, b ListInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// loadCatalog reads every list: records, base filters, change lists and live changes.
func (s *Store) loadCatalog() error {
	lists := map[string]*list{}
	err := s.db.View(func(txn *badger.Txn) error {
		err := iterate(txn, []byte(listPrefix), func(item *badger.Item) error {
			l := &list{live: newChangeSet()}
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &l.rec) }); err != nil {
				return fmt.Errorf("list record %q: %w", item.Key(), err)
			}
			lists[l.rec.Info.Name] = l
			return nil
		})
		if err != nil {
			return err
		}
		for name, l := range lists {
			if err := s.loadListData(txn, name, l); err != nil {
				return fmt.Errorf("list %s: %w", name, err)
			}
		}
		return nil
	})
	s.catalog.Store(&catalog{lists: lists})
	return err
}

func (s *Store) loadListData(txn *badger.Txn, name string, l *list) error {
	if l.rec.BaseStorage != 0 {
		l.cache = s.newCache(l.rec.BaseBytes)
		item, err := txn.Get(filterKey(l.rec.BaseStorage))
		if err != nil {
			return fmt.Errorf("exchange filter of %d: %w", l.rec.BaseStorage, err)
		}
		l.filter = roaring.New()
		if err := item.Value(func(v []byte) error { return l.filter.UnmarshalBinary(v) }); err != nil {
			return err
		}
	}
	for _, id := range slices.Backward(l.rec.DeltaStorage) {
		d, err := readChangeSet(txn, id)
		if err != nil {
			return fmt.Errorf("change list %d: %w", id, err)
		}
		l.deltas = append(l.deltas, d)
	}
	prefix := liveListPrefix(name)
	return iterate(txn, prefix, func(item *badger.Item) error {
		n := parseNum(string(item.Key()[len(prefix):]))
		return item.Value(func(v []byte) error {
			if len(v) == 0 || (v[0] != liveAdd && v[0] != liveRemove) {
				return fmt.Errorf("live change %q is corrupt", item.Key())
			}
			l.live.set(n, v[0] == liveAdd)
			return nil
		})
	})
}

// iterate calls fn with every item under prefix, in key order.
func iterate(txn *badger.Txn, prefix []byte, fn func(*badger.Item) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 16})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if err := fn(it.Item()); err != nil {
			return err
		}
	}
	return nil
}

// newCache makes the exchange cache of a full version of the given size.
func (s *Store) newCache(bytes int64) *exchangeCache { return newExchangeCache(bytes, &s.cacheBudget) }

// readChangeSet reads a stored change list back from its chunks.
func readChangeSet(txn *badger.Txn, id uint64) (*changeSet, error) {
	var data []byte
	err := iterate(txn, chunkKey(id, 0)[:storagePrefixLen+1], func(item *badger.Item) error {
		return item.Value(func(v []byte) error { data = append(data, v...); return nil })
	})
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, errors.New("no stored changes")
	}
	return unmarshalChangeSet(data)
}
