package registry

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/dgraph-io/badger/v4"
)

// The life of a data set's versions: ids, the atomic switch, and removal.
// Nothing here knows what a version holds, so that data sets of other kinds
// can be versioned the same way.

// nextID issues an id (of a version or a storage) that was never used before.
func (s *Store) nextID() (uint64, error) {
	var id uint64
	err := s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(versionSeqKey))
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
		case err != nil:
			return err
		default:
			if err := item.Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("%s holds %d bytes, want 8", versionSeqKey, len(v))
				}
				id = binary.BigEndian.Uint64(v)
				return nil
			}); err != nil {
				return err
			}
		}
		id++
		return txn.Set([]byte(versionSeqKey), binary.BigEndian.AppendUint64(nil, id))
	})
	return id, err
}

// publish makes l the list's state in one transaction, together with what
// else must change at the same instant (also), makes it durable, and then
// shows it to lookups. The caller holds publishMu.
func (s *Store) publish(l *list, also func(*badger.Txn) error) error {
	record, err := json.Marshal(l.rec)
	if err != nil {
		return err
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(listKey(l.rec.Info.Name), record); err != nil {
			return err
		}
		if also != nil {
			return also(txn)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.db.Sync(); err != nil {
		return err
	}
	s.catalog.Store(s.catalog.Load().with(l.rec.Info.Name, l))
	return nil
}

// recordVersion keeps what an import was, under its id, for as long as the
// registry lives: decisions cite the id years later.
func recordVersion(txn *badger.Txn, info ListInfo) error {
	data, err := json.Marshal(info)
	if err != nil {
		return err
	}
	return txn.Set(versionKey(info.Version), data)
}

// Version returns what the import with this id was, as recorded when it was made.
func (s *Store) Version(id uint64) (ListInfo, error) {
	var info ListInfo
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(versionKey(id))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &info) })
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return info, fmt.Errorf("no import with id %d", id)
	}
	return info, err
}

// dropStorage deletes data that no list points at any more. Lookups that
// began while it was current still read it from their snapshot. A failure
// only leaves garbage, which the next Open or import removes, so it is logged
// rather than returned.
func (s *Store) dropStorage(ids ...uint64) {
	for _, id := range ids {
		if err := s.deleteStorage(id); err != nil {
			slog.Warn("registry: could not delete old list data; the next import or start retries", "storage", id, "err", err)
		}
	}
}

func (s *Store) deleteStorage(id uint64) error { return s.deletePrefix(storagePrefix(id)) }

func (s *Store) deletePrefix(prefix []byte) error {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
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

// removeStaleVersions deletes the data of every storage id no list points at:
// imports that died midway, old versions whose deletion was interrupted.
// The caller holds writeMu, so no import is writing meanwhile.
func (s *Store) removeStaleVersions() error {
	current := map[uint64]bool{}
	for _, l := range s.catalog.Load().lists {
		for _, id := range l.rec.storages() {
			current[id] = true
		}
	}
	return s.removeStale(dataTag, current, "data",
		"registry: removing data no list points at (an interrupted import or an old version)")
}

// removeStale deletes the data of every storage id among the keys starting
// with tag that is not in current, logging removing for each. keyKind names
// the keys in the error a malformed one gets.
func (s *Store) removeStale(tag byte, current map[uint64]bool, keyKind, removing string) error {
	var stale []uint64
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tag}})
		defer it.Close()
		// One Seek per storage id, not one step per key.
		for it.Rewind(); it.Valid(); {
			key := it.Item().Key()
			if len(key) < storagePrefixLen {
				return fmt.Errorf("malformed %s key %q", keyKind, key)
			}
			id := binary.BigEndian.Uint64(key[1:storagePrefixLen])
			if !current[id] {
				stale = append(stale, id)
			}
			it.Seek(taggedStoragePrefix(tag, id+1))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range stale {
		slog.Info(removing, "storage", id)
		if err := s.deletePrefix(taggedStoragePrefix(tag, id)); err != nil {
			return err
		}
	}
	return nil
}
