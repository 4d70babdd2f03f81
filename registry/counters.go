package registry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Attempt counters remember when calls went out to a number, so that a
// frequency cap ("3 calls in 24 hours") holds across restarts. The policy
// names each counter (e.g. the called number, or number and campaign); the
// registry only keeps times:
//
//	cnt/NAME -> the attempt times, unix nanoseconds (8 bytes big endian each), oldest first
//
// One key per counter makes a count one Get, and the key's TTL (the keep
// period) drops counters of numbers no longer called without a sweeper.
const counterPrefix = "cnt/"

// counterLocks serialize the read-modify-write of one counter: the store runs
// without conflict detection (imports are serialized elsewhere), so two
// concurrent records of the same number must not interleave. Striping keeps
// unrelated numbers from waiting on each other.
var (
	counterLocks [64]sync.Mutex
	counterSeed  = maphash.MakeSeed()
)

func counterKey(name string) []byte {
	return append([]byte(counterPrefix), name...)
}

// RecordAttempt adds an attempt at time at to the named counter and forgets
// its attempts older than keep before at, and all but the latest most: a
// number called thousands of times a day then costs a few bytes, not a
// value rewritten ever longer on every call.
func (s *Store) RecordAttempt(name string, at time.Time, keep time.Duration, most int) error {
	if keep <= 0 {
		return errors.New("an attempt counter needs a positive keep period")
	}
	lock := &counterLocks[maphash.String(counterSeed, name)%uint64(len(counterLocks))]
	lock.Lock()
	defer lock.Unlock()
	key := counterKey(name)
	horizon := at.Add(-keep).UnixNano()
	return s.db.Update(func(txn *badger.Txn) error {
		times, err := counterTimes(txn, key)
		if err != nil {
			return err
		}
		// Sorted, so that a clock stepping back keeps the run in order.
		times = append(slices.DeleteFunc(times, func(t int64) bool { return t <= horizon }), at.UnixNano())
		slices.Sort(times)
		if most > 0 && len(times) > most {
			times = times[len(times)-most:]
		}
		value := make([]byte, 0, 8*len(times))
		for _, t := range times {
			value = binary.BigEndian.AppendUint64(value, uint64(t))
		}
		return txn.SetEntry(badger.NewEntry(key, value).WithTTL(keep))
	})
}

// Attempts counts the attempts of the named counter at or after from and
// before to. A counter never recorded (or expired) counts 0.
func (s *Store) Attempts(name string, from, to time.Time) (int, error) {
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	item, err := txn.Get(counterKey(name))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	lo, hi, n := from.UnixNano(), to.UnixNano(), 0
	err = item.Value(func(v []byte) error {
		for ; len(v) >= 8; v = v[8:] {
			if t := int64(binary.BigEndian.Uint64(v)); t >= lo && t < hi {
				n++
			}
		}
		return nil
	})
	return n, err
}

// counterTimes reads a counter's times inside a transaction.
func counterTimes(txn *badger.Txn, key []byte) ([]int64, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var times []int64
	err = item.Value(func(v []byte) error {
		if len(v)%8 != 0 {
			return fmt.Errorf("attempt counter %s is corrupt", key)
		}
		for ; len(v) > 0; v = v[8:] {
			times = append(times, int64(binary.BigEndian.Uint64(v)))
		}
		return nil
	})
	return times, err
}
