package audit

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/mod/sumdb/tlog"
)

// The writer names earlier records in later ones by their leaf hashes: a
// decision the data_change records of the imports its trace cites
// (data_hashes), an outcome its call's decision (decision_hash). A record
// named by a record proven in the tree is proven with it, so a call's
// evidence needs one inclusion proof (docs/audit.md, "One call's evidence").
// Names are a convenience of the writer, not part of the log's proof: a
// name missing (after a restart that lost this state) only makes the
// bundle prove that record in the tree.

// importHashesFile is the derived file in the audit folder that keeps the
// writer's import names across restarts: JSON lines of importHash.
const importHashesFile = "import-hashes.jsonl"

// importsKept is how many imports of one data set the writer names: the
// one in force and the one before, which decisions still in flight at an
// import may cite.
const importsKept = 2

// maxOpenCalls bounds the allowed decisions waiting for their outcome
// (calls in progress). Past it, calls whose outcome was never written (a
// dropped record) are forgotten: their outcomes would name nothing.
const maxOpenCalls = 1 << 20

type importHash struct {
	Set     string `json:"data_set"`
	Version uint64 `json:"version"`
	Seq     uint64 `json:"seq"`  // the record's: its leaf is seq-1 in the tree
	Hash    string `json:"hash"` // hex
	leaf    tlog.Hash
}

// recordNames is the writer's state for naming records.
type recordNames struct {
	dir     string
	imports []importHash // oldest first, at most importsKept per set
	// known: imports are all the log's latest imports (the file was read
	// and every name proven, or the log was empty).
	known bool
	dirty bool // imports changed since the file was written
	// calls maps the Call-ID of an allowed decision whose outcome was not
	// written yet to the decision's leaf hash.
	calls map[string]tlog.Hash
}

// loadNames reads the import names of dir; a missing or unreadable file
// gives none (later bundles prove those imports in the tree).
func loadNames(dir string) (*recordNames, error) {
	n := &recordNames{dir: dir, calls: map[string]tlog.Hash{}}
	data, err := os.ReadFile(filepath.Join(dir, importHashesFile))
	if errors.Is(err, fs.ErrNotExist) {
		return n, nil
	}
	if err != nil {
		return n, err
	}
	n.known = true
	for line := range bytes.Lines(data) {
		var h importHash
		err := json.Unmarshal(line, &h)
		if err == nil && len(h.Hash) == hashHexLen {
			_, err = hex.Decode(h.leaf[:], []byte(h.Hash))
		}
		if err != nil || len(h.Hash) != hashHexLen {
			n.imports, n.known = nil, false
			return n, errors.New("not a line of import hashes: " + string(bytes.TrimSpace(line)))
		}
		n.imports = append(n.imports, h)
	}
	return n, nil
}

// keepProven keeps the import names whose record is leaf seq-1 of the
// tree (size records, hashes read from tree) and returns the others. The
// file is derived and may be altered: a name it gives that is not a record
// of the log would let a bundle prove a record the log never held.
func (n *recordNames) keepProven(tree tlog.HashReader, size int64) (dropped []importHash) {
	n.imports = slices.DeleteFunc(n.imports, func(h importHash) bool {
		var stored []tlog.Hash
		var err error
		if h.Seq > 0 && int64(h.Seq) <= size {
			stored, err = tree.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(h.Seq)-1)})
		}
		if err != nil || len(stored) != 1 || stored[0] != h.leaf {
			dropped = append(dropped, h)
			return true
		}
		return false
	})
	n.dirty = n.dirty || len(dropped) > 0
	n.known = n.known && len(dropped) == 0
	return dropped
}

// dataHashes appends to out the leaf hashes of the imports of versions,
// in their order, leaving out those it does not know.
func (n *recordNames) dataHashes(out []tlog.Hash, versions []uint64) []tlog.Hash {
	for _, v := range versions {
		for _, h := range n.imports {
			if h.Version == v {
				out = append(out, h.leaf)
				break
			}
		}
	}
	return out
}

// versions is the set of import versions named.
func (n *recordNames) versions() map[uint64]bool {
	vs := make(map[uint64]bool, len(n.imports))
	for _, h := range n.imports {
		vs[h.Version] = true
	}
	return vs
}

// imported remembers leaf as the record seq of import imp, forgetting the
// set's older imports but the last importsKept.
func (n *recordNames) imported(imp DataImport, seq uint64, leaf tlog.Hash) {
	x := hexHash(leaf)
	n.imports = append(n.imports, importHash{Set: imp.Set, Version: imp.Version, Seq: seq, Hash: string(x[:]), leaf: leaf})
	kept := 0
	for i := len(n.imports) - 1; i >= 0; i-- {
		if n.imports[i].Set == imp.Set {
			if kept++; kept > importsKept {
				n.imports = slices.Delete(n.imports, i, i+1)
			}
		}
	}
	n.dirty = true
}

// decided remembers an allowed decision's leaf until its outcome.
func (n *recordNames) decided(callID string, leaf tlog.Hash) {
	if len(n.calls) >= maxOpenCalls {
		clear(n.calls)
	}
	n.calls[callID] = leaf
}

// ended returns the leaf of the call's decision, once.
func (n *recordNames) ended(callID string) (tlog.Hash, bool) {
	leaf, ok := n.calls[callID]
	delete(n.calls, callID)
	return leaf, ok
}

// save writes the import names, if they changed, through a new file and a
// rename; called once the records they name are on disk.
func (n *recordNames) save() error {
	if !n.dirty {
		return nil
	}
	tmp := filepath.Join(n.dir, importHashesFile+".new")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, h := range n.imports {
		enc.Encode(h) // strings and a number: cannot fail
	}
	err = errors.Join(w.Flush(), f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(tmp, filepath.Join(n.dir, importHashesFile))
	}
	if err == nil {
		n.dirty = false
	}
	return err
}
