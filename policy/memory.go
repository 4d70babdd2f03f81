package policy

import (
	"sync"
	"time"
)

// memoryRegistry keeps the Registry contract in memory: the registry
// fixtures of policy test files (policytest.go), which run offline.
type memoryRegistry struct {
	mu    sync.Mutex
	lists map[string]memoryList
	*AttemptLog
	data memoryData // line types, consents, exemptions (memorydata.go)
}

type memoryList struct {
	version uint64
	asOf    time.Time
	numbers map[string]bool
}

func newMemoryRegistry() *memoryRegistry {
	return &memoryRegistry{lists: map[string]memoryList{}, AttemptLog: NewAttemptLog(), data: newMemoryData()}
}

// setList imports a list: it gets the next version, as the registry's imports do.
func (m *memoryRegistry) setList(name string, asOf time.Time, numbers ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := memoryList{version: uint64(len(m.lists) + 1), asOf: asOf, numbers: map[string]bool{}}
	for _, n := range numbers {
		l.numbers[n] = true
	}
	m.lists[name] = l
}

func (m *memoryRegistry) Listed(list, e164 string) (bool, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.lists[list]
	return l.numbers[e164], l.version, nil
}

func (m *memoryRegistry) ListDate(list string) (uint64, time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.lists[list]
	return l.version, l.asOf, ok
}

// AttemptLog keeps attempt counters in memory, every attempt of each: the
// Attempts and RecordAttempt of a Registry for the cases of a policy test
// file, and for recorded calls decided again in their order (policy replay),
// which are short-lived.
type AttemptLog struct {
	mu sync.Mutex
	at map[string][]time.Time
}

// NewAttemptLog returns an AttemptLog without attempts.
func NewAttemptLog() *AttemptLog { return &AttemptLog{at: map[string][]time.Time{}} }

// Attempts counts the attempts recorded under name at or after from and before to.
func (a *AttemptLog) Attempts(name string, from, to time.Time) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, t := range a.at[name] {
		if !t.Before(from) && t.Before(to) {
			n++
		}
	}
	return n, nil
}

// RecordAttempt records an attempt at time at under name; it keeps every attempt.
func (a *AttemptLog) RecordAttempt(name string, at time.Time, _ time.Duration, _ int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at[name] = append(a.at[name], at)
	return nil
}
