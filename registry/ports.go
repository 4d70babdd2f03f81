package registry

import (
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// The intermodal port lists (WIRELESS-TO-WIRELINE, WIRELINE-TO-WIRELESS: one
// ten-digit number per line, tens of millions of numbers) are lists named
// after their kind, stored and versioned exactly like the DNC lists: an
// exchange bitmap per NPA-NXX, about a bit per number of a busy exchange. A
// full file replaces the list; a daily file imported with --delta adds the
// day's ports as a change list, which also dates them.

// ported tells whether the named port list holds n, in which version, and,
// for a number a daily change list added, the day it was ported (the change
// list's source date).
func (s *Store) ported(name string, n num) (on bool, version uint64, portedOn time.Time, err error) {
	l, on, err := s.listState(name, n)
	switch {
	case l == nil:
		return false, 0, time.Time{}, err
	case err != nil || !on:
		return on, l.rec.Info.Version, time.Time{}, err
	}
	return true, l.rec.Info.Version, s.deltaDate(l, n), nil
}

// deltaDate returns the source date of the change list that lists n, or the
// zero time when n is in the full version (or a live addition). Folding
// change lists into the full version forgets their dates; it happens after
// 32 of them, by when the safe harbor of their ports has long passed.
func (s *Store) deltaDate(l *list, n num) time.Time {
	if _, live := l.live.decides(n); live {
		return time.Time{}
	}
	for i, d := range l.deltas {
		listed, ok := d.decides(n)
		if !ok {
			continue
		}
		if !listed || i >= len(l.rec.DeltaStorage) {
			return time.Time{}
		}
		id := l.rec.DeltaStorage[len(l.rec.DeltaStorage)-1-i]
		if day, ok := s.sets.deltaDates.Load(id); ok {
			return day.(time.Time)
		}
		info, err := s.Version(id)
		if err != nil {
			return time.Time{}
		}
		day, err := formats.ParseDay(info.SourceDate)
		if err != nil {
			return time.Time{}
		}
		s.sets.deltaDates.Store(id, day.Time())
		return day.Time()
	}
	return time.Time{}
}
