package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The index of a complete file of the log finds a call's records without
// reading the whole file: a day of 10 million records is ≈ 9 GB. It lists,
// sorted, the pairs (hash of a called number or a Call-ID, block of the file
// whose lines hold it). A block is about a megabyte of lines: in a plain
// file a line offset, in a compressed one a gzip member (compressFile starts
// one every gzipMemberSize at a line's start), where decompression can
// begin. A lookup reads a few bytes of the index by binary search, then the
// blocks it names; every line read is still checked, so a hash collision or
// a stale block costs time, never a wrong answer.
//
// Index files are derived data, in the folder index/ of the audit folder,
// named after their file (decisions-2031-05-01.2.jsonl.gz.idx). Verify
// never reads them, and nothing needs them: a missing one, or one whose
// file changed size (a redaction), is rebuilt from the file.
//
// It also keeps the count of decisions per hour and fields (hourCount), from
// which Stats answers without reading the file.
//
// Layout, little-endian: the magic "gkidx04\n"; the indexed file's size
// (uint64); the count of blocks and of pairs, and the length of the counts
// (uint64 each); each block's offset in the file and in its decompressed
// text, and the Unix seconds of its first and last decision (uint64 each); each pair as one uint64, hash<<32 | block, ascending;
// the counts, a JSON array of hourCount.
const (
	indexDirName = "index"
	indexMagic   = "gkidx04\n"
	indexHeader  = len(indexMagic) + 4*8
	// indexBlockSize is how many bytes of lines a plain file's block holds.
	indexBlockSize = 1 << 20
)

// block is where a block starts: its offset in the file as stored, and in
// the decompressed text (the same for a plain file).
type block struct {
	disk, text int64
	// first and last are the Unix seconds of the earliest and the latest
	// decision in the block (first > last: none), so that Stats reads only
	// the blocks of an hour a time range cuts.
	first, last int64
}

// blockSize is a block's size in an index file: four uint64.
const blockSize = 32

// newBlock starts a block without decisions.
func newBlock(disk, text int64) block { return block{disk, text, math.MaxInt64, math.MinInt64} }

// fileIndex is one file's index, in memory or read from disk through file.
type fileIndex struct {
	size   int64
	gz     bool
	blocks []block
	pairs  []uint64 // in memory; nil when read through file
	// blockPairs is where the pairs of the last block lines were added to
	// start, while the index is built (addLine).
	blockPairs int
	file       *os.File
	npairs     int64
	// counts are the hourly counts, in memory or (countsLen bytes) after
	// the pairs in file.
	counts    map[hourCount]int64
	countsLen int64
}

func indexPath(dir string, f logFile) string {
	return filepath.Join(dir, indexDirName, f.name()+".idx")
}

// indexKey hashes a called number or a Call-ID as it stands in a record,
// JSON-escaped, between its quotes (FNV-1a, 32 bits). The field's name
// keeps a number and a Call-ID of the same text apart.
func indexKey(field string, value []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range field {
		h = (h ^ uint32(c)) * 16777619
	}
	h = (h ^ ':') * 16777619
	for _, c := range value {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

// indexedFields are the fields whose values the index holds: a decision
// and its outcome carry both.
var indexedFields = []string{"called", "call_id"}

// stringField returns the raw (escaped) value of the first "name":"..." of
// a line. Top-level fields come before any nested object in a record, and a
// quote inside a string is escaped, so the first is the record's own.
func stringField(line []byte, name string) ([]byte, bool) {
	var key [32]byte
	k := append(append(append(key[:0], '"'), name...), `":"`...)
	i := bytes.Index(line, k)
	if i < 0 {
		return nil, false
	}
	v := line[i+len(k):]
	for j := 0; j < len(v); j++ {
		switch v[j] {
		case '\\':
			j++
		case '"':
			return v[:j], true
		}
	}
	return nil, false
}

// openLogFileAs opens f in the form it is on disk now (the writer may have
// compressed it since it was listed) and says which that is.
func openLogFileAs(dir string, f logFile) (*os.File, logFile, error) {
	file, err := os.Open(f.path(dir))
	if errors.Is(err, fs.ErrNotExist) && !f.gz {
		f.gz = true
		file, err = os.Open(f.path(dir))
	}
	return file, f, err
}

// countingReader counts the bytes gzip takes from the file. As an
// io.ByteReader it lets gzip read no further than a member's end, so the
// count is where the next member starts.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// buildIndex reads one complete file of the log and indexes it; pace, when
// not nil, keeps it to a share of a core.
func buildIndex(ctx context.Context, dir string, f logFile, pace *pacer) (*fileIndex, logFile, error) {
	file, f, err := openLogFileAs(dir, f)
	if err != nil {
		return nil, f, err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, f, err
	}
	ix := &fileIndex{size: info.Size(), gz: f.gz, counts: map[hourCount]int64{}}
	in := contextReader{ctx, file, pace}
	var text int64 // offset in the text of the line being read
	var partial []byte
	lines := func(chunk []byte) {
		for len(chunk) > 0 {
			end := bytes.IndexByte(chunk, '\n')
			if end < 0 {
				partial = append(partial, chunk...)
				text += int64(len(chunk))
				return
			}
			line := chunk[:end]
			start := text - int64(len(partial))
			if len(partial) > 0 {
				line = append(partial, line...)
				partial = partial[:0]
			}
			ix.addLine(line, start)
			text += int64(end + 1)
			chunk = chunk[end+1:]
		}
	}
	buf := make([]byte, 256<<10)
	if !f.gz {
		ix.blocks = append(ix.blocks, newBlock(0, 0))
		for {
			n, err := io.ReadFull(in, buf)
			lines(buf[:n])
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				return nil, f, fmt.Errorf("%s: %w", f.path(dir), err)
			}
		}
	} else if err := ix.readMembers(in, buf, lines, func() int { return len(partial) }, &text); err != nil {
		return nil, f, fmt.Errorf("%s: %w", f.path(dir), err)
	}
	if len(partial) > 0 {
		ix.addLine(partial, text-int64(len(partial)))
	}
	slices.Sort(ix.pairs)
	ix.pairs = slices.Compact(ix.pairs)
	ix.npairs = int64(len(ix.pairs))
	return ix, f, nil
}

// readMembers decompresses a gzip file member by member, starting a block
// at each member that starts at a line.
func (ix *fileIndex) readMembers(file io.Reader, buf []byte, lines func([]byte), pending func() int, text *int64) error {
	cr := &countingReader{r: bufio.NewReaderSize(file, 256<<10)}
	var z *gzip.Reader
	for {
		at := cr.n
		if _, err := cr.r.Peek(1); err == io.EOF {
			return nil
		}
		var err error
		if z == nil {
			z, err = gzip.NewReader(cr)
		} else {
			err = z.Reset(cr)
		}
		if err != nil {
			return err
		}
		z.Multistream(false)
		if pending() == 0 {
			ix.blocks = append(ix.blocks, newBlock(at, *text))
		}
		for {
			n, err := z.Read(buf)
			lines(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
	}
}

// addLine indexes one line that starts at text; a plain file's block ends
// after indexBlockSize bytes of lines.
func (ix *fileIndex) addLine(line []byte, text int64) {
	if !ix.gz && text-ix.blocks[len(ix.blocks)-1].text >= indexBlockSize {
		ix.blocks = append(ix.blocks, newBlock(text, text))
	}
	b := uint64(len(ix.blocks) - 1)
	if n := len(ix.pairs); n > ix.blockPairs && ix.pairs[n-1]&math.MaxUint32 != b {
		// A block's pairs are sorted and their repeats dropped as the next
		// begins (a call's Call-ID is in its decision and its outcome, most
		// often in one block), so that they are held once.
		last := ix.pairs[ix.blockPairs:]
		slices.Sort(last)
		ix.pairs = ix.pairs[:ix.blockPairs+len(slices.Compact(last))]
		ix.blockPairs = len(ix.pairs)
	}
	if s, ok := summarize(line); ok {
		ix.counts[countKey(&s)]++
		bl := &ix.blocks[b]
		bl.first, bl.last = min(bl.first, s.time.Unix()), max(bl.last, s.time.Unix())
	}
	for _, name := range indexedFields {
		if v, ok := stringField(line, name); ok {
			ix.pairs = append(ix.pairs, uint64(indexKey(name, v))<<32|b)
		}
	}
}

// save writes the index of f under dir/index, through a temporary file and
// a rename, so that a reader never sees half of one.
func (ix *fileIndex) save(dir string, f logFile) error {
	if err := os.MkdirAll(filepath.Join(dir, indexDirName), 0o750); err != nil {
		return err
	}
	counts, err := json.Marshal(ix.countRows())
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Join(dir, indexDirName), ".tmp-*")
	if err != nil {
		return err
	}
	// Written as it is encoded: the pairs of a 1 GB file are ≈ 30 MB, which
	// a buffer of the whole index would hold a second time.
	w := bufio.NewWriterSize(tmp, 256<<10)
	var le [8]byte
	word := func(v uint64) {
		binary.LittleEndian.PutUint64(le[:], v)
		_, _ = w.Write(le[:])
	}
	_, _ = w.WriteString(indexMagic)
	for _, n := range []int{int(ix.size), len(ix.blocks), len(ix.pairs), len(counts)} {
		word(uint64(n))
	}
	for _, bl := range ix.blocks {
		for _, v := range []int64{bl.disk, bl.text, bl.first, bl.last} {
			word(uint64(v))
		}
	}
	for _, p := range ix.pairs {
		word(p)
	}
	_, _ = w.Write(counts)
	err = w.Flush() // the first write error, if any, is kept and returned here
	if err = errors.Join(err, tmp.Chmod(0o640), tmp.Close()); err == nil {
		err = os.Rename(tmp.Name(), indexPath(dir, f))
	}
	if err != nil {
		return errors.Join(err, os.Remove(tmp.Name()))
	}
	return nil
}

// openIndex opens the saved index of f if it is there and of f's present
// size; its pairs stay on disk (close it after use). A missing or stale
// index is (nil, nil).
func openIndex(dir string, f logFile, size int64) (*fileIndex, error) {
	file, err := os.Open(indexPath(dir, f))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var head [indexHeader]byte
	info, err := file.Stat()
	if err == nil {
		_, err = io.ReadFull(file, head[:])
	}
	if err != nil || string(head[:len(indexMagic)]) != indexMagic {
		file.Close()
		return nil, nil // unreadable: rebuilt
	}
	u := func(i int) int64 { return int64(binary.LittleEndian.Uint64(head[len(indexMagic)+8*i:])) }
	ix := &fileIndex{size: u(0), gz: f.gz, file: file, npairs: u(2), countsLen: u(3)}
	nblocks := u(1)
	if ix.size != size || info.Size() != int64(indexHeader)+blockSize*nblocks+8*ix.npairs+ix.countsLen {
		file.Close()
		return nil, nil
	}
	raw := make([]byte, blockSize*nblocks)
	if _, err := io.ReadFull(file, raw); err != nil {
		file.Close()
		return nil, nil
	}
	for i := range nblocks {
		v := func(j int64) int64 { return int64(binary.LittleEndian.Uint64(raw[blockSize*i+8*j:])) }
		ix.blocks = append(ix.blocks, block{v(0), v(1), v(2), v(3)})
	}
	return ix, nil
}

func (ix *fileIndex) Close() error {
	if ix.file == nil {
		return nil
	}
	return ix.file.Close()
}

// pair returns the i-th pair, from memory or from the file.
func (ix *fileIndex) pair(i int64) (uint64, error) {
	if ix.file == nil {
		return ix.pairs[i], nil
	}
	var b [8]byte
	off := int64(indexHeader) + blockSize*int64(len(ix.blocks)) + 8*i
	if _, err := ix.file.ReadAt(b[:], off); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// blocksOf returns the blocks that hold the key, ascending.
func (ix *fileIndex) blocksOf(key uint32) ([]int, error) {
	lo, hi := int64(0), ix.npairs
	for lo < hi { // the first pair >= key<<32
		mid := (lo + hi) / 2
		p, err := ix.pair(mid)
		if err != nil {
			return nil, err
		}
		if p>>32 < uint64(key) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	var out []int
	for i := lo; i < ix.npairs; i++ {
		p, err := ix.pair(i)
		if err != nil {
			return nil, err
		}
		if p>>32 != uint64(key) {
			break
		}
		if b := int(uint32(p)); b < len(ix.blocks) {
			out = append(out, b)
		}
	}
	return out, nil
}

// readBlocks calls fn for each line that starts in one of the blocks of f
// (ascending), in order, until fn returns false.
func (ix *fileIndex) readBlocks(dir string, f logFile, blocks []int, fn func(line []byte) bool) error {
	file, err := os.Open(f.path(dir))
	if err != nil {
		return err
	}
	defer file.Close()
	var lr lineReader
	var z *gzip.Reader
	for i := 0; i < len(blocks); {
		// Neighbouring blocks are read in one pass.
		j := i + 1
		for j < len(blocks) && blocks[j] == blocks[j-1]+1 {
			j++
		}
		start, end := ix.blocks[blocks[i]], int64(-1)
		if next := blocks[j-1] + 1; next < len(ix.blocks) {
			end = ix.blocks[next].text
		}
		i = j
		var r io.Reader = io.NewSectionReader(file, start.disk, 1<<62)
		if ix.gz {
			br := bufio.NewReaderSize(r, 64<<10)
			if z == nil {
				z, err = gzip.NewReader(br)
			} else {
				err = z.Reset(br)
			}
			if err != nil {
				return fmt.Errorf("%s at byte %d: %w", f.path(dir), start.disk, err)
			}
			r = z
		}
		lr.reset(r)
		for at := start.text; end < 0 || at < end; {
			line, err := lr.next()
			if err != nil && err != io.EOF {
				return fmt.Errorf("%s: %w", f.path(dir), err)
			}
			if len(line) > 0 && !fn(line) {
				return errStop
			}
			if err == io.EOF {
				break
			}
			at += int64(len(line)) + 1
		}
	}
	return nil
}

// indexOf returns the index of a complete file f: the saved one, else one
// built now and saved when dir can take it (a reader without write access
// to a server's folder builds it each time).
func indexOf(ctx context.Context, dir string, f logFile, pace *pacer) (*fileIndex, logFile, error) {
	file, f, err := openLogFileAs(dir, f)
	if err != nil {
		return nil, f, err
	}
	info, err := file.Stat()
	file.Close()
	if err != nil {
		return nil, f, err
	}
	ix, err := openIndex(dir, f, info.Size())
	if ix != nil || err != nil {
		return ix, f, err
	}
	ix, f, err = buildIndex(ctx, dir, f, pace)
	if err == nil {
		_ = ix.save(dir, f) // derived data: a folder we may not write is read without
	}
	return ix, f, err
}

// indexFile builds and saves the index of a complete file of the log when
// it has none (or a stale one), and removes the indexes of files no longer
// there (compressed since, or deleted).
func indexFile(ctx context.Context, dir string, f logFile, pace *pacer) error {
	ix, f, err := indexOf(ctx, dir, f, pace)
	if err != nil {
		return err
	}
	ix.Close()
	if _, err := os.Stat(indexPath(dir, f)); err != nil {
		return err // not saved
	}
	return pruneIndexes(dir)
}

// pruneIndexes removes the index files whose log file is gone.
func pruneIndexes(dir string) error {
	entries, err := os.ReadDir(filepath.Join(dir, indexDirName))
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".idx")
		if _, isLog := parseLogFile(name); !ok || !isLog {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, name)); errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, os.Remove(filepath.Join(dir, indexDirName, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// countRows lists the in-memory counts, in a fixed order.
func (ix *fileIndex) countRows() []hourCount {
	rows := make([]hourCount, 0, len(ix.counts))
	for k, n := range ix.counts {
		k.N = n
		rows = append(rows, k)
	}
	slices.SortFunc(rows, func(a, b hourCount) int {
		return cmp.Or(cmp.Compare(a.Hour, b.Hour), strings.Compare(a.Rule, b.Rule), strings.Compare(a.Decision, b.Decision),
			cmp.Compare(a.Status, b.Status), strings.Compare(a.Campaign, b.Campaign), strings.Compare(a.Dialer, b.Dialer),
			strings.Compare(a.Seller, b.Seller), strings.Compare(a.Mode, b.Mode), cmp.Compare(boolInt(a.Monitor), boolInt(b.Monitor)))
	})
	return rows
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hourCounts returns the index's hourly counts.
func (ix *fileIndex) hourCounts() ([]hourCount, error) {
	if ix.file == nil {
		return ix.countRows(), nil
	}
	raw := make([]byte, ix.countsLen)
	if _, err := ix.file.ReadAt(raw, int64(indexHeader)+blockSize*int64(len(ix.blocks))+8*ix.npairs); err != nil {
		return nil, err
	}
	var rows []hourCount
	return rows, json.Unmarshal(raw, &rows)
}
