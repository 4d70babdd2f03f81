package registry

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
	"github.com/dgraph-io/badger/v4"

	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// Consent records, RND answers and exemptions are records per number: a few
// per number at most, tens of millions in all. A version stores each
// number's records as one value (one Get per lookup) and a compressed bitmap
// of the NANP numbers that have any, kept in memory, so that the usual
// question, about a number with no record, costs no Badger read.

// recordSet is a record data set's current version as lookups see it.
type recordSet struct {
	rec    setRecord
	filter *roaring64.Bitmap
}

func (s *Store) recordSet(kind string) *recordSet {
	v, ok := s.sets.records.Load(kind)
	if !ok {
		return nil
	}
	return v.(*recordSet)
}

func recordKey(dst []byte, id uint64, e164 string) []byte {
	dst = append(dst, setDataTag)
	dst = binary.BigEndian.AppendUint64(dst, id)
	dst = append(dst, recordTag)
	return append(dst, e164...)
}

func setFilterKey(id uint64) []byte { return append(setStoragePrefix(id), setFilterTag) }

// numberRecords calls fn with the stored records of the E.164 number in the
// version rs; fn is not called when it has none. value is only valid during
// fn. It returns errMoved when rs stopped being the kind's current version
// before the read began: its data may be going, the caller asks again.
func (s *Store) numberRecords(rs *recordSet, e164 string, fn func(value []byte) error) error {
	if n := parseNum(e164); n.nanp && !rs.filter.Contains(n.key) {
		return nil
	}
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	if s.recordSet(rs.rec.Info.Name) != rs {
		return errMoved
	}
	var key [32]byte
	item, err := txn.Get(recordKey(key[:0], rs.rec.Storage, e164))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return item.Value(fn)
}

// recordBuilder collects a record import: each record encoded into one
// arena, with its number, so that 10 M records take ~16 B of index each.
type recordBuilder struct {
	arena   []byte
	entries []recordEntry
}

type recordEntry struct {
	key    uint64 // NANP number as NPANXXXXXX; 0 for numbers outside the NANP
	off, n uint32
	// foreign is the E.164 of a number outside the NANP (rare: a string each).
	foreign string
}

func (b *recordBuilder) add(n formats.Number, encode func([]byte) []byte) error {
	off := len(b.arena)
	b.arena = encode(b.arena)
	if len(b.arena) > 1<<32-1 {
		return errors.New("import: the records exceed 4 GB")
	}
	e := recordEntry{off: uint32(off), n: uint32(len(b.arena) - off)}
	if n.IsNANP() {
		e.key = numOf(n).key
	} else {
		e.foreign = n.E164
	}
	b.entries = append(b.entries, e)
	return nil
}

// e164 writes the entry's number in E.164 into dst.
func (e *recordEntry) e164(dst []byte) []byte {
	if e.key == 0 {
		return append(dst, e.foreign...)
	}
	dst = append(dst, '+', '1')
	var digits [10]byte
	k := e.key
	for i := 9; i >= 0; i-- {
		digits[i] = byte('0' + k%10)
		k /= 10
	}
	return append(dst, digits[:]...)
}

// importRecords reads consent, rnd or ebr files and writes the version.
func (s *Store) importRecords(ctx context.Context, imp *setImport) (int64, func(setRecord) error, error) {
	var b recordBuilder
	check := func() error {
		if imp.count++; imp.count%cancelCheckEvery == 0 {
			return ctx.Err()
		}
		return nil
	}
	fileIndex := 0
	read := func(r io.Reader, name string) (string, error) {
		defer func() { fileIndex++ }()
		switch imp.req.Kind {
		case KindConsent:
			return "consent csv", formats.ReadConsents(r, name, imp.mapping, func(c formats.Consent) error {
				if err := check(); err != nil {
					return err
				}
				return b.add(c.Number, func(dst []byte) []byte { return encodeConsent(dst, c, fileIndex, imp.count) })
			})
		case KindRND:
			return "rnd csv", formats.ReadRND(r, name, imp.mapping, func(a formats.RNDAnswer) error {
				if err := check(); err != nil {
					return err
				}
				return b.add(a.Number, func(dst []byte) []byte { return encodeRND(dst, a, fileIndex, imp.count) })
			})
		}
		return "ebr csv", formats.ReadExemptions(r, name, imp.mapping, func(e formats.Exemption) error {
			if err := check(); err != nil {
				return err
			}
			return b.add(e.Number, func(dst []byte) []byte { return encodeExemption(dst, e, fileIndex, imp.count) })
		})
	}
	if err := imp.readFiles(ctx, imp.req.Kind, read); err != nil {
		return 0, nil, err
	}
	var err error
	if imp.id, err = s.nextID(); err != nil {
		return 0, nil, err
	}
	rs := &recordSet{filter: roaring64.New()}
	written, err := s.writeRecords(ctx, imp.id, &b, rs.filter)
	if err != nil {
		return 0, nil, err
	}
	publish := func(rec setRecord) error {
		rs.rec = rec
		var old uint64
		if cur := s.recordSet(rec.Info.Name); cur != nil {
			old = cur.rec.Storage
		}
		return s.publishSet(rec, old, func() { s.sets.records.Store(rec.Info.Name, rs) })
	}
	return written, publish, nil
}

// writeRecords writes each number's records, in key order, as one value,
// and the filter of NANP numbers.
func (s *Store) writeRecords(ctx context.Context, id uint64, b *recordBuilder, filter *roaring64.Bitmap) (int64, error) {
	var key, last []byte
	sortKey := func(e *recordEntry) []byte { return e.e164(key[:0]) }
	slices.SortStableFunc(b.entries, func(x, y recordEntry) int {
		if x.key != 0 && y.key != 0 {
			switch {
			case x.key < y.key:
				return -1
			case x.key > y.key:
				return 1
			}
			return 0
		}
		return bytes.Compare(x.e164(nil), y.e164(nil))
	})
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	var written int64
	var value []byte
	flush := func() error {
		if last == nil {
			return nil
		}
		k := recordKey(nil, id, string(last))
		written += int64(len(k) + len(value))
		return wb.Set(k, slices.Clone(value))
	}
	for i := range b.entries {
		e := &b.entries[i]
		if i%cancelCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		k := sortKey(e)
		if !bytes.Equal(k, last) {
			if err := flush(); err != nil {
				return 0, err
			}
			last, value = append(last[:0], k...), value[:0]
			if e.key != 0 {
				filter.Add(e.key)
			}
		}
		value = append(value, b.arena[e.off:e.off+e.n]...)
		key = k
	}
	if err := flush(); err != nil {
		return 0, err
	}
	filter.RunOptimize()
	data, err := filter.ToBytes()
	if err != nil {
		return 0, err
	}
	written += int64(len(data))
	if err := wb.Set(setFilterKey(id), data); err != nil {
		return 0, err
	}
	return written, wb.Flush()
}

func readRecordSet(txn *badger.Txn, rec setRecord) (*recordSet, error) {
	rs := &recordSet{rec: rec, filter: roaring64.New()}
	item, err := txn.Get(setFilterKey(rec.Storage))
	if err != nil {
		return nil, fmt.Errorf("number filter: %w", err)
	}
	err = item.Value(func(v []byte) error {
		return rs.filter.UnmarshalBinary(v)
	})
	return rs, err
}

// Record encoding: uvarints and length-prefixed strings, records one after another.

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

// appendTime stores a time as unix seconds, 0 for none.
func appendTime(dst []byte, t int64) []byte { return binary.AppendVarint(dst, t) }

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// recordReader decodes one value's records.
type recordReader struct {
	v   []byte
	err error
}

func (r *recordReader) more() bool { return r.err == nil && len(r.v) > 0 }

func (r *recordReader) uvarint() uint64 { return readVarint(r, binary.Uvarint) }
func (r *recordReader) varint() int64   { return readVarint(r, binary.Varint) }

// readVarint takes one varint off r with decode, or marks r corrupt.
func readVarint[T uint64 | int64](r *recordReader, decode func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	x, n := decode(r.v)
	if n <= 0 {
		r.err = errCorruptRecord
		return 0
	}
	r.v = r.v[n:]
	return x
}

func (r *recordReader) string() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.v)) {
		if r.err == nil {
			r.err = errCorruptRecord
		}
		return ""
	}
	s := string(r.v[:n])
	r.v = r.v[n:]
	return s
}

// recordSource names the file and line a record came from, and its id.
func recordSource(sources []SourceFile, file uint64, line uint64) string {
	if int(file) < len(sources) {
		return fmt.Sprintf("%s:%d", sources[file].Name, line)
	}
	return fmt.Sprintf("file %d:%d", file, line)
}

func recordID(version, ordinal uint64) string { return fmt.Sprintf("%d.%d", version, ordinal) }
