package audit

import (
	"crypto/sha256"
	"errors"
	"math/bits"
	"sort"

	"golang.org/x/mod/sumdb/tlog"
)

// A multiproof proves several leaves of one tree at once: the hashes of the
// subtrees that hold none of them, in the order rootOf meets them (depth
// first, left before right). It follows the tree's definition (RFC 6962
// §2.1, MTH): the root of leaves [lo, hi) splits at the largest power of two
// below hi-lo. A hash two leaves' paths share is given once, so it is shorter
// than one inclusion proof per leaf (RFC 6962 §2.1.1), and simpler to check.

// splitPoint is the largest power of two smaller than n (n > 1).
func splitPoint(n int64) int64 { return 1 << (bits.Len64(uint64(n-1)) - 1) }

// rootOf computes the root of the tree of size n from the leaf hashes at
// indexes (sorted, distinct, below n) and proof, the concatenated 32-byte
// hashes of the other subtrees. It fails when proof is too short or too long.
func rootOf(n int64, indexes []int64, leaves []tlog.Hash, proof []byte) (tlog.Hash, error) {
	w := proofWalk{indexes: indexes, leaves: leaves, proof: proof}
	root := w.root(0, n)
	if w.short || len(w.proof) != 0 {
		return root, errors.New("the proof does not fit the records and the tree's size")
	}
	return root, nil
}

type proofWalk struct {
	indexes []int64 // the leaves left to meet, in order
	leaves  []tlog.Hash
	proof   []byte // the hashes left to take
	short   bool
}

func (w *proofWalk) root(lo, hi int64) tlog.Hash {
	var h tlog.Hash
	switch {
	case len(w.indexes) == 0 || w.indexes[0] >= hi: // no proven leaf here: the proof gives the hash
		if len(w.proof) < tlog.HashSize {
			w.short = true
			return h
		}
		copy(h[:], w.proof)
		w.proof = w.proof[tlog.HashSize:]
	case hi-lo == 1:
		h, w.indexes, w.leaves = w.leaves[0], w.indexes[1:], w.leaves[1:]
	default:
		k := splitPoint(hi - lo)
		var node [1 + 2*tlog.HashSize]byte
		node[0] = 1
		l := w.root(lo, lo+k)
		r := w.root(lo+k, hi)
		copy(node[1:], l[:])
		copy(node[1+tlog.HashSize:], r[:])
		h = sha256.Sum256(node[:])
	}
	return h
}

// proveLeaves returns the multiproof of the leaves at indexes (sorted,
// distinct, below n) in the tree of size n that hashes holds.
func proveLeaves(n int64, indexes []int64, hashes tlog.HashReader) ([]byte, error) {
	var need []int64 // stored hash indexes of the perfect subtrees the proof is made of
	var gaps []int   // for each hash of the proof, how many of need it combines
	var walk func(lo, hi int64, in []int64)
	walk = func(lo, hi int64, in []int64) {
		if len(in) == 0 {
			before := len(need)
			need = appendSubtrees(need, lo, hi)
			gaps = append(gaps, len(need)-before)
			return
		}
		if hi-lo == 1 {
			return
		}
		k := splitPoint(hi - lo)
		i := sort.Search(len(in), func(i int) bool { return in[i] >= lo+k })
		walk(lo, lo+k, in[:i])
		walk(lo+k, hi, in[i:])
	}
	walk(0, n, indexes)
	stored, err := hashes.ReadHashes(need)
	if err != nil {
		return nil, err
	}
	proof := make([]byte, 0, len(gaps)*tlog.HashSize)
	for _, g := range gaps {
		h := stored[g-1] // an imperfect subtree (the tree's right edge) is its perfect parts, folded from the right
		for i := g - 2; i >= 0; i-- {
			h = tlog.NodeHash(stored[i], h)
		}
		proof = append(proof, h[:]...)
		stored = stored[g:]
	}
	return proof, nil
}

// appendSubtrees appends the stored hash indexes of the perfect subtrees that
// make up leaves [lo, hi), largest (leftmost) first. lo is a multiple of the
// first one's size, as every left part of the tree's split is.
func appendSubtrees(need []int64, lo, hi int64) []int64 {
	for lo < hi {
		size := int64(1) << (bits.Len64(uint64(hi-lo)) - 1)
		level := bits.TrailingZeros64(uint64(size))
		need = append(need, tlog.StoredHashIndex(level, lo>>level))
		lo += size
	}
	return need
}
