package registry

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/RoaringBitmap/roaring/v2"
)

// An exchange (NPA-NXX) has 10,000 lines. Its listed lines are stored as one
// value in the smallest of three encodings, each readable in place, without
// decoding or allocating:
//
//   - plain: the 10,000-bit bitmap (1,250 B), for dense exchanges;
//   - Elias-Fano: the sorted lines as high parts in unary and low bits packed,
//     about 2 + log2(10,000/n) bits per listed line (~560 B at the typical
//     8%): for everything in between;
//   - roaring: a one-container roaring bitmap, for runs of consecutive lines
//     (blocks a business holds) and for very sparse exchanges.
//
// The value's last byte says which; keeping it last leaves the encoding at
// the start of the buffer.
const (
	linesPerExchange = 10000
	plainBitmapSize  = linesPerExchange / 8

	encodingPlain      byte = 'B'
	encodingRoaring    byte = 'R'
	encodingEliasFano  byte = 'E'
	eliasFanoHeaderLen      = 3 // count (uint16), low bit width (uint8)
)

// exchangeLines is the set of listed lines of one exchange while it is built.
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

// remove clears a line.
func (x *exchangeLines) remove(line uint16) {
	x[line/64] &^= 1 << (line % 64)
}

// has tests a line.
func (x *exchangeLines) has(line uint16) bool { return x[line/64]&(1<<(line%64)) != 0 }

// missingFrom counts the lines x has and other has not; a nil other has none.
func (x *exchangeLines) missingFrom(other *exchangeLines) int {
	if other == nil {
		return x.count()
	}
	n := 0
	for i, w := range x {
		n += bits.OnesCount64(w &^ other[i])
	}
	return n
}

func (x *exchangeLines) count() int {
	n := 0
	for _, w := range x {
		n += bits.OnesCount64(w)
	}
	return n
}

// runs counts the runs of consecutive listed lines.
func (x *exchangeLines) runs() int {
	n := 0
	var carry uint64 // the previous word's top bit
	for _, w := range x {
		n += bits.OnesCount64(w &^ (w<<1 | carry))
		carry = w >> 63
	}
	return n
}

// roaringOverhead bounds the bytes a one-container roaring bitmap adds to its
// container (cookie, key, cardinality, offset).
const roaringOverhead = 16

// encode returns the stored value: the smallest encoding, then its tag byte.
// An empty exchange is not stored at all. Building a roaring bitmap costs
// microseconds, so it is only built when its container (4 B per run) could
// beat the others.
func (x *exchangeLines) encode() ([]byte, error) {
	n := x.count()
	best := plainBitmapSize
	efSize := eliasFanoSize(n)
	best = min(best, efSize)
	if 4*x.runs()+roaringOverhead < best || 2*n+roaringOverhead < best {
		rb := roaring.FromDense(x[:], true)
		rb.RunOptimize()
		if int(rb.GetSerializedSizeInBytes()) < best {
			packed, err := rb.ToBytes()
			if err != nil {
				return nil, err
			}
			return append(packed, encodingRoaring), nil
		}
	}
	if efSize < plainBitmapSize {
		return append(x.eliasFano(n), encodingEliasFano), nil
	}
	value := make([]byte, len(x)*8)
	for i, w := range x {
		binary.LittleEndian.PutUint64(value[i*8:], w)
	}
	// Lines 10000..10047 of the last word are never set: drop their bytes.
	return append(value[:plainBitmapSize], encodingPlain), nil
}

// eliasFanoLowBits is the width of the low part of n lines: floor(log2(10,000/n)).
func eliasFanoLowBits(n int) int {
	if n == 0 {
		return 0
	}
	return bits.Len(uint(linesPerExchange/n)) - 1
}

// eliasFanoSize is the encoded size of n lines, without the tag byte. The
// high parts take n one-bits plus one zero per bucket (10,000 >> low bits).
func eliasFanoSize(n int) int {
	l := eliasFanoLowBits(n)
	buckets := (linesPerExchange-1)>>l + 1
	return eliasFanoHeaderLen + (n+buckets+7)/8 + (n*l+7)/8
}

func (x *exchangeLines) eliasFano(n int) []byte {
	l := eliasFanoLowBits(n)
	buckets := (linesPerExchange-1)>>l + 1
	upperLen := (n + buckets + 7) / 8
	out := make([]byte, eliasFanoHeaderLen+upperLen+(n*l+7)/8+4) // +4: room for 32-bit writes at the end
	binary.LittleEndian.PutUint16(out, uint16(n))
	out[2] = byte(l)
	upper, lower := out[eliasFanoHeaderLen:], out[eliasFanoHeaderLen+upperLen:]
	i := 0
	for w, word := range x {
		for word != 0 {
			line := w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			pos := line>>l + i // the i-th line's high part in unary
			upper[pos/8] |= 1 << (pos % 8)
			if l > 0 {
				bit := i * l
				v := binary.LittleEndian.Uint32(lower[bit/8:]) | uint32(line&(1<<l-1))<<(bit%8)
				binary.LittleEndian.PutUint32(lower[bit/8:], v)
			}
			i++
		}
	}
	return out[:len(out)-4]
}

// exchangeHas tests a line in a stored exchange value. It only reads value,
// which may point into Badger's or the cache's memory, and allocates nothing.
func exchangeHas(value []byte, line uint16) (bool, error) {
	if len(value) == 0 || line >= linesPerExchange {
		return false, errBadValue
	}
	data, tag := value[:len(value)-1], value[len(value)-1]
	switch tag {
	case encodingPlain:
		if len(data) != plainBitmapSize {
			return false, errBadValue
		}
		return data[line/8]&(1<<(line%8)) != 0, nil
	case encodingEliasFano:
		return eliasFanoHas(data, line)
	case encodingRoaring:
		return roaringHas(data, line)
	}
	return false, fmt.Errorf("unknown exchange encoding %q", tag)
}

// eliasFanoHas finds the lines whose high part is line's (those between the
// zero ending the previous bucket and the zero ending line's bucket) and
// compares their low bits.
func eliasFanoHas(data []byte, line uint16) (bool, error) {
	if len(data) < eliasFanoHeaderLen {
		return false, errBadValue
	}
	n, l := int(binary.LittleEndian.Uint16(data)), int(data[2])
	buckets := (linesPerExchange-1)>>l + 1
	upperLen := (n + buckets + 7) / 8
	if l > 13 || len(data) != eliasFanoHeaderLen+upperLen+(n*l+7)/8 {
		return false, errBadValue
	}
	upper, lower := data[eliasFanoHeaderLen:eliasFanoHeaderLen+upperLen], data[eliasFanoHeaderLen+upperLen:]
	h := int(line) >> l
	// Find the zero ending bucket h-1 (if any) and the one ending bucket h,
	// skipping whole words of the unary high parts by their count of zeros.
	first, end, zeros := 0, -1, 0
	for w := 0; w*8 < len(upper) && end < 0; w++ {
		inv := ^readWord(upper, w)
		if zc := bits.OnesCount64(inv); zeros+zc <= h-1 {
			zeros += zc
			continue
		}
		for inv != 0 {
			pos := w*64 + bits.TrailingZeros64(inv)
			inv &= inv - 1
			if zeros == h-1 {
				first = pos - zeros // lines before the zero ending bucket h-1
			}
			if zeros == h {
				end = pos - zeros
				break
			}
			zeros++
		}
	}
	if end < 0 || end > n {
		return false, errBadValue
	}
	low := int(line) & (1<<l - 1)
	for i := first; i < end; i++ {
		switch v := lowBits(lower, i, l); {
		case v == low:
			return true, nil
		case v > low: // low parts ascend within a bucket
			return false, nil
		}
	}
	return false, nil
}

// readWord reads the w-th 64-bit word of b, zero-padded past its end.
func readWord(b []byte, w int) uint64 {
	if w*8+8 <= len(b) {
		return binary.LittleEndian.Uint64(b[w*8:])
	}
	var buf [8]byte
	copy(buf[:], b[w*8:])
	return binary.LittleEndian.Uint64(buf[:])
}

// lowBits reads the i-th l-bit field of b (l ≤ 13: it spans at most 3 bytes).
func lowBits(b []byte, i, l int) int {
	if l == 0 {
		return 0
	}
	bit := i * l
	var v uint32
	for k := 0; k < 3 && bit/8+k < len(b); k++ {
		v |= uint32(b[bit/8+k]) << (8 * k)
	}
	return int(v>>(bit%8)) & (1<<l - 1)
}

// The roaring portable format (github.com/RoaringBitmap/RoaringFormatSpec),
// for the one container lines 0..9999 fit in.
const (
	roaringCookieNoRuns = 12346
	roaringCookieRuns   = 12347
)

// roaringHas tests x in a serialized roaring bitmap of at most one container.
func roaringHas(b []byte, x uint16) (bool, error) {
	if len(b) < 8 {
		return false, errBadValue
	}
	var card, start int
	var isRun bool
	switch cookie := binary.LittleEndian.Uint32(b); {
	case cookie == roaringCookieNoRuns:
		switch size := binary.LittleEndian.Uint32(b[4:]); size {
		case 0:
			return false, nil
		case 1: // cookie, size, key+cardinality, offset
			if len(b) < 16 || binary.LittleEndian.Uint16(b[8:]) != 0 {
				return false, errBadValue
			}
			card, start = int(binary.LittleEndian.Uint16(b[10:]))+1, 16
		default:
			return false, errBadValue
		}
	case cookie&0xFFFF == roaringCookieRuns && cookie>>16 == 0: // one container: cookie, run flags, key+cardinality
		if len(b) < 9 || binary.LittleEndian.Uint16(b[5:]) != 0 {
			return false, errBadValue
		}
		isRun, card, start = b[4]&1 != 0, int(binary.LittleEndian.Uint16(b[7:]))+1, 9
	default:
		return false, errBadValue
	}
	c := b[start:]
	switch {
	case isRun: // run count, then (start, length-1) pairs, ascending
		if len(c) < 2 {
			return false, errBadValue
		}
		runs := int(binary.LittleEndian.Uint16(c))
		if len(c) < 2+4*runs {
			return false, errBadValue
		}
		lo, hi := 0, runs
		for lo < hi {
			m := (lo + hi) / 2
			if binary.LittleEndian.Uint16(c[2+4*m:]) <= x {
				lo = m + 1
			} else {
				hi = m
			}
		}
		if lo == 0 {
			return false, nil
		}
		first := binary.LittleEndian.Uint16(c[2+4*(lo-1):])
		return int(x) <= int(first)+int(binary.LittleEndian.Uint16(c[2+4*(lo-1)+2:])), nil
	case card <= 4096: // sorted uint16s
		if len(c) < 2*card {
			return false, errBadValue
		}
		lo, hi := 0, card
		for lo < hi {
			m := (lo + hi) / 2
			if binary.LittleEndian.Uint16(c[2*m:]) < x {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return lo < card && binary.LittleEndian.Uint16(c[2*lo:]) == x, nil
	default: // a 65,536-bit bitmap
		if len(c) < 8192 {
			return false, errBadValue
		}
		return c[x/8]&(1<<(x%8)) != 0, nil
	}
}

// decodeLines reads a stored value back into lines (to apply changes to it).
func decodeLines(value []byte, x *exchangeLines) error {
	*x = exchangeLines{}
	if len(value) == 0 {
		return errBadValue
	}
	data, tag := value[:len(value)-1], value[len(value)-1]
	switch tag {
	case encodingPlain:
		if len(data) != plainBitmapSize {
			return errBadValue
		}
		for i := range x {
			x[i] = readWord(data, i)
		}
		return nil
	case encodingEliasFano:
		if len(data) < eliasFanoHeaderLen {
			return errBadValue
		}
		n, l := int(binary.LittleEndian.Uint16(data)), int(data[2])
		buckets := (linesPerExchange-1)>>l + 1
		upperLen := (n + buckets + 7) / 8
		if l > 13 || len(data) != eliasFanoHeaderLen+upperLen+(n*l+7)/8 {
			return errBadValue
		}
		upper, lower := data[eliasFanoHeaderLen:eliasFanoHeaderLen+upperLen], data[eliasFanoHeaderLen+upperLen:]
		i := 0
		for w := 0; w*8 < len(upper) && i < n; w++ {
			for word := readWord(upper, w); word != 0 && i < n; word &= word - 1 {
				high := w*64 + bits.TrailingZeros64(word) - i
				line := high<<l | lowBits(lower, i, l)
				if line >= linesPerExchange {
					return errBadValue
				}
				x.add(uint16(line))
				i++
			}
		}
		return nil
	case encodingRoaring:
		rb := roaring.New()
		if _, err := rb.FromBuffer(data); err != nil {
			return fmt.Errorf("roaring exchange bitmap: %w", err)
		}
		for it := rb.Iterator(); it.HasNext(); {
			line := it.Next()
			if line >= linesPerExchange {
				return errBadValue
			}
			x.add(uint16(line))
		}
		return nil
	}
	return fmt.Errorf("unknown exchange encoding %q", tag)
}
