package registry

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// ImportRequest asks for a new version of a list, read from files.
type ImportRequest struct {
	List string `json:"list"`
	// Files are read by the process that holds the store (paths should be absolute).
	Files []string `json:"files"`
}

// Import reads the files into a new version of the list and makes it the
// current one. It is all or nothing: the files are read completely before
// anything is written; the version is written under keys no reader knows;
// one transaction switches the list to it. A bad line fails the import with
// an error naming FILE:LINE, and the previous version keeps answering.
// Cancelling ctx abandons the import the same way.
func (s *Store) Import(ctx context.Context, req ImportRequest) (ListInfo, error) {
	if err := checkListName(req.List); err != nil {
		return ListInfo{}, err
	}
	if len(req.Files) == 0 {
		return ListInfo{}, errors.New("import: no files given")
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.removeStaleVersions(); err != nil {
		return ListInfo{}, err
	}

	numbers := newNumberSet()
	sources := make([]SourceFile, 0, len(req.Files))
	for _, path := range req.Files {
		src, err := numbers.readFile(ctx, path)
		if err != nil {
			return ListInfo{}, err
		}
		sources = append(sources, src)
	}

	version, err := s.nextVersion()
	if err != nil {
		return ListInfo{}, err
	}
	info := ListInfo{Name: req.List, Version: version, Count: numbers.count, ImportedAt: time.Now().UTC(), Sources: sources}
	if err := s.writeVersion(ctx, version, numbers); err != nil {
		s.dropVersion(version)
		return ListInfo{}, err
	}
	previous, replaced := s.catalog.Load().lists[req.List]
	if err := s.publish(info); err != nil {
		s.dropVersion(version)
		return ListInfo{}, err
	}
	if replaced {
		s.dropVersion(previous.Version)
	}
	return info, nil
}

// numberSet collects the numbers of one import. NANP numbers take one bitmap
// per exchange (1,256 B), however many of its lines are listed: the national
// list's ~250 M numbers fit in ~330 MB, against ~4 GB as a set of strings.
type numberSet struct {
	exchanges []*exchangeLines // indexed by exchange - minExchange
	foreign   map[string]struct{}
	count     int64 // distinct numbers
}

// Area codes and exchanges both run 200..999.
const minExchange, maxExchange = 200_200, 999_999

func newNumberSet() *numberSet {
	return &numberSet{exchanges: make([]*exchangeLines, maxExchange-minExchange+1), foreign: map[string]struct{}{}}
}

func (ns *numberSet) add(n formats.Number) {
	if !n.IsNANP() {
		if _, dup := ns.foreign[n.E164]; !dup {
			ns.foreign[n.E164] = struct{}{}
			ns.count++
		}
		return
	}
	x := ns.exchanges[n.Exchange-minExchange]
	if x == nil {
		x = new(exchangeLines)
		ns.exchanges[n.Exchange-minExchange] = x
	}
	if x.add(n.Line) {
		ns.count++
	}
}

// cancelCheckEvery is how many numbers are read between looks at the context.
const cancelCheckEvery = 1 << 16

// readFile adds the numbers of one file and describes the file.
func (ns *numberSet) readFile(ctx context.Context, path string) (SourceFile, error) {
	if err := ctx.Err(); err != nil {
		return SourceFile{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return SourceFile{}, err
	}
	defer f.Close()
	in := &hashingReader{r: f, h: sha256.New()}
	seen := 0
	err = formats.ReadPlain(in, path, func(n formats.Number) error {
		if n.IsNANP() && (n.Exchange < minExchange || n.Exchange > maxExchange) {
			return fmt.Errorf("registry: exchange %d out of range", n.Exchange)
		}
		ns.add(n)
		if seen++; seen%cancelCheckEvery == 0 {
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		return SourceFile{}, err
	}
	return SourceFile{Name: path, Size: in.n, SHA256: hex.EncodeToString(in.h.Sum(nil))}, nil
}

// hashingReader hashes and counts what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (hr *hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.n += int64(n)
	return n, err
}

// nextVersion issues a version id that was never used before.
func (s *Store) nextVersion() (uint64, error) {
	var version uint64
	err := s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(versionSeqKey))
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
		case err != nil:
			return err
		default:
			if err := item.Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("registry: %s holds %d bytes, want 8", versionSeqKey, len(v))
				}
				version = binary.BigEndian.Uint64(v)
				return nil
			}); err != nil {
				return err
			}
		}
		version++
		return txn.Set([]byte(versionSeqKey), binary.BigEndian.AppendUint64(nil, version))
	})
	return version, err
}

// writeVersion writes a version's data in key order. A WriteBatch rather
// than a StreamWriter: the StreamWriter stops all other writes while it runs
// and is meant for databases nobody is using, while this one serves lookups.
// With one key per exchange the national list is under a million keys, so the
// batch is not the bottleneck.
func (s *Store) writeVersion(ctx context.Context, version uint64, ns *numberSet) error {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for i, x := range ns.exchanges {
		if x == nil {
			continue
		}
		if i%cancelCheckEvery == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		value, err := x.encode()
		if err != nil {
			return err
		}
		if err := wb.Set(exchangeKey(nil, version, uint32(i+minExchange)), value); err != nil {
			return err
		}
		ns.exchanges[i] = nil // the encoded value replaces it: keep memory flat
	}
	for _, e164 := range slices.Sorted(maps.Keys(ns.foreign)) {
		if err := wb.Set(foreignKey(nil, version, e164), foreignValue); err != nil {
			return err
		}
	}
	return wb.Flush()
}

// publish switches the list to its new version in one transaction, makes it
// durable, and then shows it to lookups.
func (s *Store) publish(info ListInfo) error {
	record, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(listKey(info.Name), record) }); err != nil {
		return err
	}
	if err := s.db.Sync(); err != nil {
		return err
	}
	lists := maps.Clone(s.catalog.Load().lists)
	lists[info.Name] = info
	s.catalog.Store(&catalog{lists: lists})
	return nil
}

// dropVersion deletes a version that no list points at any more. Lookups that
// began while it was current still read it from their snapshot. A failure
// only leaves garbage, which the next Open or import removes, so it is logged
// rather than returned.
func (s *Store) dropVersion(version uint64) {
	if err := s.deleteVersion(version); err != nil {
		slog.Warn("registry: could not delete an old list version; the next import or start retries", "version", version, "err", err)
	}
}

func (s *Store) deleteVersion(version uint64) error {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: versionPrefix(version)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := wb.Delete(it.Item().KeyCopy(nil)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return wb.Flush()
}

// removeStaleVersions deletes the data of every version no list points at:
// imports that died midway, old versions whose deletion was interrupted.
// The caller holds writeMu, so no import is writing a version meanwhile.
func (s *Store) removeStaleVersions() error {
	current := map[uint64]bool{}
	for _, info := range s.catalog.Load().lists {
		current[info.Version] = true
	}
	var stale []uint64
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{dataTag}})
		defer it.Close()
		// One Seek per version, not one step per key.
		for it.Rewind(); it.Valid(); {
			version, ok := dataKeyVersion(it.Item().Key())
			if !ok {
				return fmt.Errorf("registry: malformed data key %q", it.Item().Key())
			}
			if !current[version] {
				stale = append(stale, version)
			}
			it.Seek(versionPrefix(version + 1))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, version := range stale {
		slog.Info("registry: removing data no list points at (an interrupted import or an old version)", "version", version)
		if err := s.deleteVersion(version); err != nil {
			return err
		}
	}
	return nil
}
