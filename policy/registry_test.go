package policy

import "time"

// listAsOf is the date of every list a test imports: fresh for the calls of
// the tests (call() places them on 2 March 2026).
var listAsOf = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// memRegistry is the in-memory registry with lists imported from a map
// (list name → numbers), and an error every lookup returns when err is set.
type memRegistry struct {
	*memoryRegistry
	err error
}

func newMemRegistry(lists map[string][]string) *memRegistry {
	m := &memRegistry{memoryRegistry: newMemoryRegistry()}
	for name, numbers := range lists {
		m.setList(name, listAsOf, numbers...)
	}
	return m
}

func (m *memRegistry) Listed(list, e164 string) (bool, error) {
	if m.err != nil {
		return false, m.err
	}
	return m.memoryRegistry.Listed(list, e164)
}

func (m *memRegistry) Attempts(name string, from, to time.Time) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	return m.memoryRegistry.Attempts(name, from, to)
}
