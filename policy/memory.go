package policy

import (
	"sync"
	"time"
)

// memoryRegistry keeps the Registry contract in memory: the registry
// fixtures of policy test files (policytest.go), which run offline.
type memoryRegistry struct {
	mu       sync.Mutex
	lists    map[string]memoryList
	counters map[string][]time.Time
	data     memoryData // line types, consents, exemptions (memorydata.go)
}

type memoryList struct {
	version uint64
	asOf    time.Time
	numbers map[string]bool
}

func newMemoryRegistry() *memoryRegistry {
	return &memoryRegistry{lists: map[string]memoryList{}, counters: map[string][]time.Time{}, data: newMemoryData()}
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

func (m *memoryRegistry) Listed(list, e164 string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lists[list].numbers[e164], nil
}

func (m *memoryRegistry) ListDate(list string) (uint64, time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.lists[list]
	return l.version, l.asOf, ok
}

func (m *memoryRegistry) Attempts(name string, from, to time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, t := range m.counters[name] {
		if !t.Before(from) && t.Before(to) {
			n++
		}
	}
	return n, nil
}

// RecordAttempt keeps every attempt: a test file's cases are short-lived.
func (m *memoryRegistry) RecordAttempt(name string, at time.Time, _ time.Duration, _ int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counters[name] = append(m.counters[name], at)
	return nil
}
