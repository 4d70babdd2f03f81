package policy

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

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

func (m *memRegistry) Listed(list, e164 string) (bool, uint64, error) {
	if m.err != nil {
		return false, 0, m.err
	}
	return m.memoryRegistry.Listed(list, e164)
}

func (m *memRegistry) Attempts(name string, from, to time.Time) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	return m.memoryRegistry.Attempts(name, from, to)
}

// switchingStore is a real registry on disk in which an import switches a
// list's version right after each lookup of the list answers, before the
// condition writes its trace: the race between a lookup and the version it
// cites, made to happen every time.
type switchingStore struct {
	*registry.Store
	t        testing.TB
	list     string
	files    []string // the list's contents, imported in turn: the first at the start, the next after each lookup
	versions []uint64 // of each import so far
}

// newSwitchingStore opens a store in a temporary directory with the list
// imported from contents[0]; contents are lines of a number file.
func newSwitchingStore(t testing.TB, list string, contents ...string) *switchingStore {
	t.Helper()
	dir := t.TempDir()
	store, err := registry.Open(registry.DefaultOptions(filepath.Join(dir, "data")).WithMaxRemoval(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s := &switchingStore{Store: store, t: t, list: list}
	for i, text := range contents {
		path := filepath.Join(dir, "list"+string(rune('a'+i))+".txt")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		s.files = append(s.files, path)
	}
	s.importNext()
	return s
}

func (s *switchingStore) importNext() {
	s.t.Helper()
	info, err := s.Import(context.Background(), registry.ImportRequest{List: s.list, Files: s.files[len(s.versions):][:1]})
	if err != nil {
		s.t.Fatal(err)
	}
	s.versions = append(s.versions, info.Version)
}

func (s *switchingStore) Listed(list, e164 string) (bool, uint64, error) {
	on, version, err := s.Store.Listed(list, e164)
	if list == s.list && len(s.versions) < len(s.files) {
		s.importNext()
	}
	return on, version, err
}
