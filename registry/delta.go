package registry

import (
	"context"
	"encoding/binary"
	"log/slog"
	"maps"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/RoaringBitmap/roaring/v2/roaring64"
	"github.com/dgraph-io/badger/v4"

	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// pendingChange is the change a change list makes to one number.
type pendingChange struct {
	remove bool
	date   formats.Day
}

// importChanges applies change lists (or, from files of other formats,
// additions) as a new version that keeps the list's data and adds a layer of
// changes over it. Only changes that change something are kept, so the
// version's count is exact. When a number appears more than once, the line
// with the latest date wins, and among equal dates the last line.
func (s *Store) importChanges(ctx context.Context, req ImportRequest, rd *fileReader) (ListInfo, error) {
	nanp := map[uint64]pendingChange{}
	foreign := map[string]pendingChange{}
	err := rd.readAll(nil, func(r formats.Record) error {
		c := pendingChange{remove: r.Delete, date: r.Date}
		if n := numOf(r.Number); n.nanp {
			if old, seen := nanp[n.key]; !seen || c.date >= old.date {
				nanp[n.key] = c
			}
		} else if old, seen := foreign[n.e164]; !seen || c.date >= old.date {
			foreign[n.e164] = c
		}
		return nil
	})
	if err != nil {
		return ListInfo{}, err
	}

	cur := s.catalog.Load().lists[req.List]
	if cur == nil {
		cur = &list{rec: listRecord{Info: ListInfo{Name: req.List}}, live: newChangeSet()}
	}
	delta := newChangeSet()
	var added, removed int64
	apply := func(n num, c pendingChange) error {
		// Under writeMu the list's imported data cannot change or go away.
		was, err := s.importedHolds(nil, cur, n)
		switch {
		case err != nil:
			return err
		case !c.remove && !was:
			delta.set(n, true)
			added++
		case c.remove && was:
			delta.set(n, false)
			removed++
		}
		return nil
	}
	// In number order, so that the numbers of an exchange meet its cached bitmap.
	for _, key := range slices.Sorted(maps.Keys(nanp)) {
		if err := apply(num{nanp: true, exchange: uint32(key / 10000), line: uint16(key % 10000), key: key}, nanp[key]); err != nil {
			return ListInfo{}, err
		}
	}
	for e164, c := range foreign {
		if err := apply(num{e164: e164}, c); err != nil {
			return ListInfo{}, err
		}
	}

	id, err := s.nextID()
	if err != nil {
		return ListInfo{}, err
	}
	stored, err := s.writeChangeSet(id, delta)
	if err != nil {
		s.dropStorage(id)
		return ListInfo{}, err
	}
	info := rd.info(req.List, id)
	info.Delta, info.Added, info.Removed = true, added, removed
	info.Count = cur.rec.Info.Count + added - removed
	info.Base = cur.rec.Info.Base
	info.Deltas = append(slices.Clone(cur.rec.Info.Deltas), id)
	next := &list{
		rec: listRecord{
			Info:        info,
			BaseStorage: cur.rec.BaseStorage, BaseBytes: cur.rec.BaseBytes,
			DeltaStorage: append(slices.Clone(cur.rec.DeltaStorage), id), DeltaBytes: cur.rec.DeltaBytes + stored,
		},
		filter: cur.filter,
		cache:  cur.cache,
		deltas: append([]*changeSet{delta}, cur.deltas...),
	}
	next.rec.Info.Bytes = next.rec.BaseBytes + next.rec.DeltaBytes
	lists := func(n num) (bool, error) { return s.importedHolds(nil, next, n) }
	if _, err := s.switchTo(next, rd.sourceDay(), lists); err != nil {
		s.dropStorage(id)
		return ListInfo{}, err
	}
	if s.needsFold(next) {
		// The changes are in force already; folding only makes lookups and
		// memory lean again, so a failure is logged and retried next time.
		if err := s.fold(ctx, req.List, rd); err != nil {
			slog.Warn("registry: folding change lists into the full version failed; the next change list retries", "list", req.List, "err", err)
		}
	}
	return s.current(req.List), nil
}

// changeChunkSize keeps each stored chunk of a change set well inside one
// transaction's limit, whatever the memtable size.
const changeChunkSize = 512 << 10

// writeChangeSet stores a change set under id and returns the bytes written.
func (s *Store) writeChangeSet(id uint64, c *changeSet) (int64, error) {
	data, err := c.marshal()
	if err != nil {
		return 0, err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	written := int64(0)
	for chunk := uint32(0); len(data) > 0 || chunk == 0; chunk++ {
		part := data[:min(len(data), changeChunkSize)]
		data = data[len(part):]
		key := chunkKey(id, chunk)
		written += int64(len(key) + len(part))
		if err := wb.Set(key, part); err != nil {
			return 0, err
		}
	}
	return written, wb.Flush()
}

func (s *Store) needsFold(l *list) bool {
	changes := int64(0)
	for _, d := range l.deltas {
		changes += d.size()
	}
	return len(l.deltas) > s.opts.FoldDeltas || changes > s.opts.FoldChanges
}

// fold writes the list's full version with its change lists applied, under
// a new storage id, and switches to it. The list's version does not change:
// its data is the same, only stored differently.
func (s *Store) fold(ctx context.Context, name string, rd *fileReader) error {
	cur := s.catalog.Load().lists[name]
	id, err := s.nextID()
	if err != nil {
		return err
	}
	written, err := s.writeFolded(ctx, id, cur, rd)
	if err != nil {
		s.dropStorage(id)
		return err
	}
	s.publishMu.Lock()
	latest := s.catalog.Load().lists[name] // its live changes may be newer than cur's
	next := &list{rec: latest.rec, filter: written.filter, cache: s.newCache(written.bytes), live: latest.live}
	next.rec.BaseStorage, next.rec.BaseBytes = id, written.bytes
	next.rec.DeltaStorage, next.rec.DeltaBytes = nil, 0
	next.rec.Info.Bytes = written.bytes
	err = s.publish(next, nil)
	s.publishMu.Unlock()
	if err != nil {
		s.dropStorage(id)
		return err
	}
	s.dropStorage(cur.rec.storages()...)
	s.warmNew(ctx, next)
	return nil
}

// writeFolded merges the full version's exchanges with the exchanges the
// change lists touch, in exchange order: untouched exchanges are copied as
// they are, touched ones decoded, changed (oldest change list first) and
// encoded again. Then come the numbers outside the NANP and the filter.
func (s *Store) writeFolded(ctx context.Context, id uint64, cur *list, rd *fileReader) (storedNumbers, error) {
	out := storedNumbers{filter: roaring.New()}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	set := func(key, value []byte) error {
		out.bytes += int64(len(key) + len(value))
		return wb.Set(key, value)
	}
	txn := s.db.NewTransaction(false) // under writeMu the base cannot change
	defer txn.Discard()
	base := openBaseExchanges(txn, cur.rec.BaseStorage)
	defer base.close()

	err := foldExchanges(ctx, base, newFoldChanges(cur.deltas), cur.filter, rd, "fold", func(exchange uint32, value []byte) error {
		out.filter.Add(exchange)
		return set(exchangeKey(nil, id, exchange), value)
	})
	if err != nil {
		return out, err
	}
	foreign, err := foldedForeign(txn, cur)
	if err != nil {
		return out, err
	}
	if err := writeForeignAndFilter(set, id, foreign, out.filter); err != nil {
		return out, err
	}
	return out, wb.Flush()
}

// foldChanges are a list's change lists as a fold applies them: the
// exchanges they touch, and a cursor over each one's adds and removes.
type foldChanges struct {
	touched *roaring.Bitmap
	cursors []changeCursor // oldest change list first, so that newer changes apply last
}

type changeCursor struct {
	it     roaring64.IntPeekable64
	listed bool // adds, not removes
}

// newFoldChanges reads deltas, newest first as a list keeps them.
func newFoldChanges(deltas []*changeSet) *foldChanges {
	c := &foldChanges{touched: roaring.New()}
	for _, d := range slices.Backward(deltas) {
		for _, rb := range []*roaring64.Bitmap{d.adds, d.removes} {
			for it := rb.Iterator(); it.HasNext(); {
				c.touched.Add(uint32(it.Next() / 10000))
			}
		}
		c.cursors = append(c.cursors, changeCursor{d.adds.Iterator(), true}, changeCursor{d.removes.Iterator(), false})
	}
	return c
}

// apply changes the lines of exchange as the change lists say. Exchanges
// must come in increasing order: the cursors only move forward.
func (c *foldChanges) apply(exchange uint32, lines *exchangeLines) {
	first, end := uint64(exchange)*10000, uint64(exchange+1)*10000
	for _, cur := range c.cursors {
		for cur.it.AdvanceIfNeeded(first); cur.it.HasNext() && cur.it.PeekNext() < end; {
			line := uint16(cur.it.Next() - first)
			if cur.listed {
				lines.add(line)
			} else {
				lines.remove(line)
			}
		}
	}
}

// baseExchanges walks the exchanges of a list's full version in key order;
// storage 0 (no full version) has none.
type baseExchanges struct {
	it *badger.Iterator
}

func openBaseExchanges(txn *badger.Txn, storage uint64) *baseExchanges {
	if storage == 0 {
		return &baseExchanges{}
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: exchangeKey(nil, storage, 0)[:storagePrefixLen+1], PrefetchValues: true})
	it.Rewind()
	return &baseExchanges{it: it}
}

// peek is the next exchange, false when there is none left.
func (b *baseExchanges) peek() (uint32, bool) {
	if b.it == nil || !b.it.Valid() {
		return 0, false
	}
	return binary.BigEndian.Uint32(b.it.Item().Key()[storagePrefixLen+1:]), true
}

func (b *baseExchanges) next() { b.it.Next() }

func (b *baseExchanges) close() {
	if b.it != nil {
		b.it.Close()
	}
}

// foldExchanges hands write each exchange of the folded version in exchange
// order: an untouched one as the base stores it, a touched one decoded,
// changed and encoded again, unless it has no line left. filter is the
// list's exchange filter, for the progress total; phase names the progress.
func foldExchanges(ctx context.Context, base *baseExchanges, changes *foldChanges, filter *roaring.Bitmap, rd *fileReader, phase string, write func(exchange uint32, value []byte) error) error {
	total := int64(changes.touched.GetCardinality())
	if filter != nil {
		total = int64(roaring.Or(changes.touched, filter).GetCardinality())
	}
	touched := changes.touched.Iterator()
	for done := int64(0); ; done++ {
		if done%cancelCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			rd.report(phase, done, total)
		}
		be, haveBase := base.peek()
		if !haveBase && !touched.HasNext() {
			return nil
		}
		if haveBase && (!touched.HasNext() || be < touched.PeekNext()) {
			value, err := base.it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := write(be, value); err != nil {
				return err
			}
			base.next()
			continue
		}
		exchange := touched.Next()
		var lines exchangeLines
		if haveBase && be == exchange {
			if err := base.it.Item().Value(func(v []byte) error { return decodeLines(v, &lines) }); err != nil {
				return err
			}
			base.next()
		}
		changes.apply(exchange, &lines)
		if lines.count() == 0 {
			continue
		}
		value, err := lines.encode()
		if err != nil {
			return err
		}
		if err := write(exchange, value); err != nil {
			return err
		}
	}
}

// foldedForeign is the folded version's numbers outside the NANP: the full
// version's, with the change lists applied oldest first.
func foldedForeign(txn *badger.Txn, cur *list) (map[string]struct{}, error) {
	foreign := map[string]struct{}{}
	if cur.rec.BaseStorage != 0 {
		prefix := foreignKey(nil, cur.rec.BaseStorage, "")
		err := iterate(txn, prefix, func(item *badger.Item) error {
			foreign[string(item.Key()[len(prefix):])] = struct{}{}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, d := range slices.Backward(cur.deltas) {
		for e := range d.foreignAdds {
			foreign[e] = struct{}{}
		}
		for e := range d.foreignRemoves {
			delete(foreign, e)
		}
	}
	return foreign, nil
}
