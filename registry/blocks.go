package registry

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// The thousands-block table says, per NPA-NXX-X, what service the block is
// assigned to and, where the file says, its state. It is small enough to
// keep in memory whole: one uint16 per block of the exchanges between the
// lowest and highest in the file (the full NANP, ~8 M blocks, is 16 MB), so
// a lookup is an index, not a Badger read. On disk it is the same array, in
// chunks, under the version's storage id.
//
// An entry holds the block type in its low 3 bits (0: no data) and the index
// of its state in setRecord.States, plus one, in the rest (0: not given).
type blockTable struct {
	rec     setRecord
	first   uint32   // the exchange of entries[0..9]
	entries []uint16 // 10 per exchange, from first on
}

const (
	blockTypeBits = 3
	blockTypeMask = 1<<blockTypeBits - 1
	// blockChunkEntries bounds a chunk's value to 1 MB.
	blockChunkEntries = 1 << 19
)

func blockChunkKey(id uint64, chunk uint32) []byte {
	return binary.BigEndian.AppendUint32(append(setStoragePrefix(id), blockChunkTag), chunk)
}

// lookup returns the type and state of the block holding exchange and line.
func (t *blockTable) lookup(exchange uint32, line uint16) (formats.BlockType, string) {
	if t == nil || exchange < t.first {
		return 0, ""
	}
	i := int(exchange-t.first)*10 + int(line/1000)
	if i >= len(t.entries) {
		return 0, ""
	}
	e := t.entries[i]
	state := ""
	if si := int(e >> blockTypeBits); si > 0 && si <= len(t.rec.States) {
		state = t.rec.States[si-1]
	}
	return formats.BlockType(e & blockTypeMask), state
}

// blockBuilder collects a blocks import: entries for every possible exchange,
// trimmed to the range used when written.
type blockBuilder struct {
	entries []uint16
	states  map[string]int
	order   []string
	lo, hi  uint32
}

func (b *blockBuilder) add(bl formats.Block) {
	if b.entries == nil {
		b.entries = make([]uint16, exchangeSlots*10)
		b.states = map[string]int{}
		b.lo, b.hi = maxExchange, minExchange
	}
	e := uint16(bl.Type)
	if bl.State != "" {
		si, ok := b.states[bl.State]
		if !ok {
			b.order = append(b.order, bl.State)
			si = len(b.order)
			b.states[bl.State] = si
		}
		e |= uint16(si) << blockTypeBits
	}
	base := int(bl.Exchange-minExchange) * 10
	if bl.X < 0 {
		for x := range 10 {
			b.entries[base+x] = e
		}
	} else {
		b.entries[base+int(bl.X)] = e
	}
	b.lo, b.hi = min(b.lo, bl.Exchange), max(b.hi, bl.Exchange)
}

func (s *Store) importBlocks(ctx context.Context, imp *setImport) (int64, func(setRecord) error, error) {
	var b blockBuilder
	err := imp.readFiles(ctx, "blocks", func(r io.Reader, name string) (string, error) {
		return formats.ReadBlocks(r, name, imp.mapping, func(bl formats.Block) error {
			if imp.count++; imp.count%cancelCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			b.add(bl)
			return nil
		})
	})
	if err != nil {
		return 0, nil, err
	}
	if b.entries == nil {
		return 0, nil, fmt.Errorf("import: the blocks files hold no block")
	}
	t := &blockTable{first: b.lo, entries: slices.Clip(b.entries[int(b.lo-minExchange)*10 : int(b.hi-minExchange+1)*10])}
	if len(b.order) >= 1<<(16-blockTypeBits) {
		return 0, nil, fmt.Errorf("import: the blocks files name %d states; at most %d", len(b.order), 1<<(16-blockTypeBits)-1)
	}
	if imp.id, err = s.nextID(); err != nil {
		return 0, nil, err
	}
	written, err := s.writeBlockTable(imp.id, t)
	if err != nil {
		return 0, nil, err
	}
	publish := func(rec setRecord) error {
		rec.States = b.order
		t.rec = rec
		var old uint64
		if cur := s.sets.blocks.Load(); cur != nil {
			old = cur.rec.Storage
		}
		return s.publishSet(rec, old, func() { s.sets.blocks.Store(t) })
	}
	return written, publish, nil
}

// writeBlockTable writes the table's entries in chunks: the first chunk
// starts with the first exchange (4 bytes), then 2 bytes per entry.
func (s *Store) writeBlockTable(id uint64, t *blockTable) (int64, error) {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	var written int64
	for chunk, start := uint32(0), 0; start < len(t.entries); chunk, start = chunk+1, start+blockChunkEntries {
		part := t.entries[start:min(start+blockChunkEntries, len(t.entries))]
		value := make([]byte, 0, 4+2*len(part))
		if chunk == 0 {
			value = binary.BigEndian.AppendUint32(value, t.first)
		}
		for _, e := range part {
			value = binary.LittleEndian.AppendUint16(value, e)
		}
		key := blockChunkKey(id, chunk)
		written += int64(len(key) + len(value))
		if err := wb.Set(key, value); err != nil {
			return 0, err
		}
	}
	return written, wb.Flush()
}

func readBlockTable(txn *badger.Txn, rec setRecord) (*blockTable, error) {
	t := &blockTable{rec: rec}
	prefix := append(setStoragePrefix(rec.Storage), blockChunkTag)
	chunks := 0
	err := iterate(txn, prefix, func(item *badger.Item) error {
		return item.Value(func(v []byte) error {
			if chunks == 0 {
				if len(v) < 4 {
					return fmt.Errorf("first chunk of %d bytes", len(v))
				}
				t.first, v = binary.BigEndian.Uint32(v), v[4:]
			}
			chunks++
			if len(v)%2 != 0 {
				return fmt.Errorf("chunk of odd length %d", len(v))
			}
			for ; len(v) > 0; v = v[2:] {
				t.entries = append(t.entries, binary.LittleEndian.Uint16(v))
			}
			return nil
		})
	})
	if err == nil && chunks == 0 {
		err = fmt.Errorf("no stored blocks")
	}
	return t, err
}
