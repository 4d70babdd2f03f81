package registry

import (
	"context"
	"encoding/binary"
	"runtime"
	"sync/atomic"
	"syscall"

	"github.com/dgraph-io/badger/v4"
)

// exchangeCache keeps the stored values of a full version's exchanges once
// read, so that the next lookup in the exchange costs ~50-100 ns and no
// allocation instead of a Badger read (≈2.5-5 µs and ~20 allocations at
// national scale, with its garbage). Stored versions never change, so the
// cache never goes stale: a new version gets a new cache.
//
// The values live in an anonymous memory mapping outside the Go heap: the
// garbage collector neither scans them nor counts them towards its next
// goal, so a cache of the whole national list (~160 MB) does not let the
// heap grow by as much again in garbage. The mapping is returned when the
// cache becomes unreachable (a finalizer), which cannot happen while a lookup
// reads it: lookups keep it alive until they are done (runtime.KeepAlive).
//
// All caches together stay within a budget; past it, lookups read Badger.
type exchangeCache struct {
	// slots[npa-200][nxx] holds offset<<16 | length of the value in arena; 0: not cached.
	slots   [800]atomic.Pointer[[1000]atomic.Uint64]
	arena   []byte
	used    atomic.Int64 // arena bytes handed out
	charged atomic.Int64 // bytes taken from the budget
	budget  *atomic.Int64
}

// newExchangeCache reserves address space for up to size bytes of values;
// memory is only used as values are cached.
func newExchangeCache(size int64, budget *atomic.Int64) *exchangeCache {
	c := &exchangeCache{budget: budget}
	if size > 0 {
		arena, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
		if err == nil {
			c.arena = arena
			runtime.SetFinalizer(c, (*exchangeCache).release)
		}
	}
	return c
}

func (c *exchangeCache) release() {
	syscall.Munmap(c.arena)
	c.budget.Add(c.charged.Load())
}

// get returns the cached value of an exchange, or nil. The caller keeps c
// alive while it reads the value.
func (c *exchangeCache) get(exchange uint32) []byte {
	chunk := c.slots[exchange/1000-200].Load()
	if chunk == nil {
		return nil
	}
	v := chunk[exchange%1000].Load()
	if v == 0 {
		return nil
	}
	off, n := v>>16, v&0xFFFF
	return c.arena[off : off+n : off+n]
}

// put caches a copy of a stored value, unless the budget or the arena is spent.
func (c *exchangeCache) put(exchange uint32, value []byte) {
	n := int64(len(value))
	if n == 0 || n > 0xFFFF || c.budget.Add(-n) < 0 {
		c.budget.Add(n)
		return
	}
	off := c.used.Add(n) - n
	if off+n > int64(len(c.arena)) {
		c.budget.Add(n)
		return
	}
	c.charged.Add(n)
	copy(c.arena[off:], value)
	slot := &c.slots[exchange/1000-200]
	chunk := slot.Load()
	if chunk == nil {
		slot.CompareAndSwap(nil, new([1000]atomic.Uint64))
		chunk = slot.Load()
	}
	chunk[exchange%1000].CompareAndSwap(0, uint64(off)<<16|uint64(n)) // a racing put of the same value may win
}

// Warm reads the exchanges of every list into the exchange cache, so that no
// call pays a Badger read (≈1 s and ~140 MB for the national list), and makes
// later imports warm the versions they make. A serving proxy calls it once at
// start, in the background; commands that open the store for one question do not.
func (s *Store) Warm(ctx context.Context) error {
	s.writeMu.Lock() // imports and Close wait: the lists read stay in place
	defer s.writeMu.Unlock()
	s.warm.Store(true)
	for _, l := range s.catalog.Load().lists {
		if err := s.warmList(ctx, l); err != nil {
			return err
		}
	}
	return nil
}

// warmList caches the exchanges of a list's full version, as far as the
// budget allows. The caller holds writeMu.
func (s *Store) warmList(ctx context.Context, l *list) error {
	if l.cache == nil {
		return nil
	}
	return s.db.View(func(txn *badger.Txn) error {
		prefix := exchangeKey(nil, l.rec.BaseStorage, 0)[:storagePrefixLen+1]
		n := 0
		return iterate(txn, prefix, func(item *badger.Item) error {
			if n++; n%cancelCheckEvery == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			exchange := binary.BigEndian.Uint32(item.Key()[len(prefix):])
			return item.Value(func(v []byte) error {
				l.cache.put(exchange, v)
				return nil
			})
		})
	})
}
