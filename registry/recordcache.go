package registry

import (
	"hash/maphash"
	"sync/atomic"
)

// recordCache keeps the decoded records of numbers asked lately, so that the
// calls to a number after the first (retries, the next campaign) get its
// consents, RND answers and exemptions without a Badger read (~12
// allocations) or a decode. Versions never change, so entries, keyed by storage id and
// number, never go stale. Direct-mapped, lock-free, like exchangeCache.
type recordCache struct {
	slots [recordCacheSlots]atomic.Pointer[cachedRecords]
}

// recordCacheSlots bounds the cache: a few hundred bytes a slot, ~20 MB full.
const recordCacheSlots = 1 << 16

var recordCacheSeed = maphash.MakeSeed()

type cachedRecords struct {
	storage uint64
	number  string
	records any // []ConsentRecord, []RNDRecord or []ExemptionRecord
}

func (c *recordCache) slot(storage uint64, e164 string) *atomic.Pointer[cachedRecords] {
	h := maphash.String(recordCacheSeed, e164) ^ storage*0x9E3779B97F4A7C15
	return &c.slots[h%recordCacheSlots]
}

// cachedNumberRecords returns the decoded records of the number in the kind's
// current version, from the cache or read and decoded, and that version: the
// one the records come from, even when an import switches versions
// meanwhile. The slice is shared: callers must not modify it (append to a
// clipped copy).
func cachedNumberRecords[T any](s *Store, kind, e164 string, decode func(e164 string, version uint64, sources []SourceFile, v []byte, out []T) ([]T, error)) ([]T, uint64, error) {
	for {
		rs := s.recordSet(kind)
		if rs == nil {
			return nil, 0, nil
		}
		version := rs.rec.Info.Version
		slot := s.sets.cache.slot(rs.rec.Storage, e164)
		if c := slot.Load(); c != nil && c.storage == rs.rec.Storage && c.number == e164 {
			return c.records.([]T), version, nil
		}
		var out []T
		err := s.numberRecords(rs, e164, func(value []byte) (err error) {
			out, err = decode(e164, version, rs.rec.Info.Sources, value, out)
			return err
		})
		if err == errMoved {
			continue
		}
		if err == nil && out != nil {
			slot.Store(&cachedRecords{storage: rs.rec.Storage, number: e164, records: out})
		}
		return out, version, err
	}
}
