package registry

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// An exchange (NPA-NXX) has 10,000 lines. Its listed lines are stored as one
// value: a plain 10,000-bit bitmap (1,250 B) or a roaring bitmap, whichever is
// smaller (sparse and run-heavy exchanges compress; a 10%-listed exchange does
// not). The value's last byte says which; keeping it last leaves the bitmap
// at the start of the buffer, aligned for roaring's in-place uint16 view.
const (
	linesPerExchange = 10000
	plainBitmapSize  = linesPerExchange / 8

	encodingPlain   byte = 'B'
	encodingRoaring byte = 'R'
)

// exchangeLines is the set of listed lines of one exchange while an import builds it.
type exchangeLines [(linesPerExchange + 63) / 64]uint64

// add sets a line and reports whether it was new.
func (x *exchangeLines) add(line uint16) bool {
	word, bit := line/64, uint64(1)<<(line%64)
	if x[word]&bit != 0 {
		return false
	}
	x[word] |= bit
	return true
}

func (x *exchangeLines) count() int {
	n := 0
	for _, w := range x {
		n += bits.OnesCount64(w)
	}
	return n
}

// encode returns the stored value: the smaller encoding, then its tag byte.
func (x *exchangeLines) encode() ([]byte, error) {
	rb := roaring.FromDense(x[:], true)
	rb.RunOptimize()
	if rb.GetSerializedSizeInBytes() < plainBitmapSize {
		packed, err := rb.ToBytes()
		if err != nil {
			return nil, err
		}
		return append(packed, encodingRoaring), nil
	}
	value := make([]byte, len(x)*8)
	for i, w := range x {
		binary.LittleEndian.PutUint64(value[i*8:], w)
	}
	// Lines 10000..10047 of the last word are never set: drop their bytes.
	return append(value[:plainBitmapSize], encodingPlain), nil
}

// roaringViews are reused to read stored roaring values: FromBuffer points a
// bitmap at the bytes without copying and reuses its slices: 1 allocation per
// lookup instead of 5 with a fresh bitmap.
var roaringViews = sync.Pool{New: func() any { return roaring.New() }}

// exchangeHas tests a line in a stored exchange value. value is only read
// during the call, so it may point into Badger's memory.
func exchangeHas(value []byte, line uint16) (bool, error) {
	if len(value) == 0 || line >= linesPerExchange {
		return false, fmt.Errorf("registry: bad exchange value (%d bytes) or line %d", len(value), line)
	}
	bitmap, tag := value[:len(value)-1], value[len(value)-1]
	switch tag {
	case encodingPlain:
		if len(bitmap) != plainBitmapSize {
			return false, fmt.Errorf("registry: plain exchange bitmap of %d bytes, want %d", len(bitmap), plainBitmapSize)
		}
		return bitmap[line/8]&(1<<(line%8)) != 0, nil
	case encodingRoaring:
		rb := roaringViews.Get().(*roaring.Bitmap)
		defer roaringViews.Put(rb)
		if _, err := rb.FromBuffer(bitmap); err != nil {
			return false, fmt.Errorf("registry: roaring exchange bitmap: %w", err)
		}
		return rb.Contains(uint32(line)), nil
	}
	return false, fmt.Errorf("registry: unknown exchange encoding %q", tag)
}
