package registry

import (
	"fmt"
	"math/bits"
	"syscall"
	"unsafe"

	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// Area codes and exchanges both run 200..999.
const minExchange, maxExchange = 200_200, 999_999

// numberSet collects the numbers of a full import. NANP numbers take one
// 10,000-bit bitmap per exchange, however many of its lines are listed: the
// national list's ~250 M numbers fit in ~330 MB, against ~4 GB as strings.
//
// The bitmaps live in an anonymous memory mapping outside the Go heap: the
// garbage collector neither scans nor counts them (with them on the heap, Go
// let the import grow to ~960 MB for a 330 MB live set), pages of exchanges
// nobody lists are never touched, and Close returns everything to the system
// at once, which matters when the import ran inside the serving process.
type numberSet struct {
	slab     []byte   // (maxExchange-minExchange+1) exchangeLines, mapped lazily by the kernel
	released int      // slab bytes before this offset were given back (see exchanges)
	present  []uint64 // one bit per exchange that holds a line
	foreign  map[string]struct{}
	count    int64 // distinct numbers
}

const exchangeSlots = maxExchange - minExchange + 1

var slotSize = int(unsafe.Sizeof(exchangeLines{}))

func newNumberSet() (*numberSet, error) {
	slab, err := syscall.Mmap(-1, 0, exchangeSlots*slotSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("reserving memory for an import: %w", err)
	}
	return &numberSet{slab: slab, present: make([]uint64, (exchangeSlots+63)/64), foreign: map[string]struct{}{}}, nil
}

// Close returns the memory to the system.
func (ns *numberSet) Close() {
	if ns.slab != nil {
		syscall.Munmap(ns.slab)
		ns.slab = nil
	}
}

func (ns *numberSet) lines(exchange uint32) *exchangeLines {
	slot := int(exchange - minExchange)
	return (*exchangeLines)(unsafe.Pointer(&ns.slab[slot*slotSize]))
}

// holds returns the lines the set holds in exchange, nil when it holds none.
func (ns *numberSet) holds(exchange uint32) *exchangeLines {
	if exchange < minExchange || exchange > maxExchange {
		return nil
	}
	slot := exchange - minExchange
	if ns.present[slot/64]&(1<<(slot%64)) == 0 {
		return nil
	}
	return ns.lines(exchange)
}

// add adds a number. The readers only produce exchanges in range; the check
// guards the memory the slab's pointer arithmetic reaches.
func (ns *numberSet) add(n formats.Number) error {
	if !n.IsNANP() {
		if _, dup := ns.foreign[n.E164]; !dup {
			ns.foreign[n.E164] = struct{}{}
			ns.count++
		}
		return nil
	}
	if n.Exchange < minExchange || n.Exchange > maxExchange || n.Line >= linesPerExchange {
		return fmt.Errorf("number %d-%04d out of range", n.Exchange, n.Line)
	}
	slot := n.Exchange - minExchange
	ns.present[slot/64] |= 1 << (slot % 64)
	if ns.lines(n.Exchange).add(n.Line) {
		ns.count++
	}
	return nil
}

// exchanges calls fn with every exchange that holds a line, in order, and
// gives the memory of the exchanges it has passed back to the system as it
// goes: while the bitmaps are written, Badger's own buffers grow (~200 MB at
// national scale) and the two need not add up. The set is empty afterwards.
func (ns *numberSet) exchanges(fn func(exchange uint32, x *exchangeLines) error) error {
	for i, w := range ns.present {
		for w != 0 {
			slot := uint32(i*64 + bits.TrailingZeros64(w))
			w &= w - 1
			if err := fn(slot+minExchange, ns.lines(slot+minExchange)); err != nil {
				return err
			}
		}
		if i%releaseEvery == releaseEvery-1 {
			ns.release((i + 1) * 64 * slotSize)
		}
	}
	ns.release(len(ns.slab))
	clear(ns.present)
	return nil
}

// releaseEvery is how many words of present (64 exchanges each) pass between
// releases: ~1,000 exchanges, 1.2 MB.
const releaseEvery = 16

// release gives back the whole pages before offset end.
func (ns *numberSet) release(end int) {
	page := syscall.Getpagesize()
	end -= end % page
	if end > ns.released {
		syscall.Madvise(ns.slab[ns.released:end], syscall.MADV_DONTNEED)
		ns.released = end
	}
}
