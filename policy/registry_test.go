package policy

// memRegistry keeps the Registry contract over maps, for tests of the engine
// alone: list name → set of E.164 numbers. When err is set, Listed fails.
type memRegistry struct {
	lists map[string]map[string]bool
	err   error
}

func newMemRegistry(lists map[string][]string) *memRegistry {
	m := &memRegistry{lists: map[string]map[string]bool{}}
	for name, numbers := range lists {
		m.lists[name] = map[string]bool{}
		for _, n := range numbers {
			m.lists[name][n] = true
		}
	}
	return m
}

func (m *memRegistry) Listed(list, e164 string) (bool, error) {
	if m.err != nil {
		return false, m.err
	}
	return m.lists[list][e164], nil
}

func (m *memRegistry) HasList(list string) bool { return m.lists[list] != nil }
