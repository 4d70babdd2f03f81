package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// Data sets beside the DNC lists: thousands-block assignments (blocks.go),
// consent records (consent.go), Reassigned Numbers Database answers (rnd.go)
// and exemptions (ebr.go). Like a list, each is imported whole into a new
// version, under a storage id no reader knows, and switched to in one
// transaction; the versions are recorded under version/ID like the lists'.
// The two intermodal port lists are lists (ports.go).
//
//	set/KIND                       -> JSON setRecord: the data set's current version
//	'S' ID(8) 'b' CHUNK(4)         -> the block table (blocks.go), in chunks
//	'S' ID(8) 'r' E164             -> the records of one number (records.go)
//	'S' ID(8) 'f'                  -> roaring64 bitmap of the NANP numbers that have records
//	clive/E164/NANOS(8)            -> JSON ConsentChange: a consent added or revoked live
//
// 'S' keeps this data apart from the lists' 'd' keys, whose stale-version
// sweep knows only lists; removeStaleSets sweeps these.
const (
	setPrefix     = "set/"
	setDataTag    = 'S'
	blockChunkTag = 'b'
	recordTag     = 'r'
	setFilterTag  = 'f'
)

// The data set kinds, as `gatekeeper import --kind` names them.
const (
	KindDNC                = "dnc"
	KindBlocks             = "blocks"
	KindWirelessToWireline = "wireless-to-wireline"
	KindWirelineToWireless = "wireline-to-wireless"
	KindConsent            = "consent"
	KindRND                = "rnd"
	KindEBR                = "ebr"
)

// Kinds lists every kind, for help texts and errors.
var Kinds = []string{KindDNC, KindBlocks, KindWirelessToWireline, KindWirelineToWireless, KindConsent, KindRND, KindEBR}

// recordKinds are the data sets stored as records per number.
var recordKinds = []string{KindConsent, KindRND, KindEBR}

// DataSetRequest asks for a new version of a data set other than a DNC list.
type DataSetRequest struct {
	Kind  string   `json:"kind"`
	Files []string `json:"files"` // read by the process that holds the store: absolute paths
	// Map renames columns: NAME=COLUMN (the file's header name, or its
	// 1-based position in a file without a header).
	Map        []string `json:"map,omitempty"`
	SourceDate string   `json:"source_date,omitempty"` // YYYY-MM-DD; else a date in the file name, else its modification time
	// Delta applies a port list file as additions to the current version (a
	// daily file of the day's ports) instead of replacing it.
	Delta bool `json:"delta,omitempty"`
	// Replace lets a full port list file remove more of the list than
	// Options.MaxRemoval allows (see ImportRequest.Replace).
	Replace bool `json:"replace,omitempty"`
}

// setRecord is a data set's state as stored under set/KIND.
type setRecord struct {
	Info    ListInfo `json:"info"`
	Storage uint64   `json:"storage"`
	States  []string `json:"states,omitempty"` // blocks: the state codes the table's entries index
}

// dataSets is the state of the data sets as lookups see it.
type dataSets struct {
	blocks  atomic.Pointer[blockTable]
	records sync.Map // kind → *recordSet (consent, rnd, ebr)
	// liveConsent holds the consent changes made live, by number.
	liveMu      sync.RWMutex
	liveConsent map[string][]ConsentChange
	// deltaDates caches the source dates of port list change lists (ports.go).
	deltaDates sync.Map
	cache      recordCache
}

func setKey(kind string) []byte { return []byte(setPrefix + kind) }

func setStoragePrefix(id uint64) []byte { return taggedStoragePrefix(setDataTag, id) }

// loadDataSets reads every data set's current version and the live consent
// changes, and removes what an interrupted import left behind. Open calls it.
func (s *Store) loadDataSets() error {
	s.sets.liveConsent = map[string][]ConsentChange{}
	err := s.db.View(func(txn *badger.Txn) error {
		err := iterate(txn, []byte(setPrefix), func(item *badger.Item) error {
			var rec setRecord
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &rec) }); err != nil {
				return fmt.Errorf("data set record %q: %w", item.Key(), err)
			}
			switch rec.Info.Name {
			case KindBlocks:
				t, err := readBlockTable(txn, rec)
				if err != nil {
					return fmt.Errorf("blocks version %d: %w", rec.Info.Version, err)
				}
				s.sets.blocks.Store(t)
			default:
				rs, err := readRecordSet(txn, rec)
				if err != nil {
					return fmt.Errorf("%s version %d: %w", rec.Info.Name, rec.Info.Version, err)
				}
				s.sets.records.Store(rec.Info.Name, rs)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return s.loadLiveConsent(txn)
	})
	if err != nil {
		return err
	}
	return s.removeStaleSets()
}

// currentSetStorages lists the storage ids the data sets use now.
func (s *Store) currentSetStorages() map[uint64]bool {
	current := map[uint64]bool{}
	if t := s.sets.blocks.Load(); t != nil {
		current[t.rec.Storage] = true
	}
	s.sets.records.Range(func(_, v any) bool {
		current[v.(*recordSet).rec.Storage] = true
		return true
	})
	return current
}

// removeStaleSets deletes data under storage ids no data set points at. The
// caller holds writeMu or is Open.
func (s *Store) removeStaleSets() error {
	return s.removeStale(setDataTag, s.currentSetStorages(), "data set",
		"registry: removing data set data no version points at (an interrupted import or an old version)")
}

// ImportDataSet imports the files into a new version of a data set and
// switches to it at once; all or nothing, like Import. The port lists are
// lists named after their kind; a dnc kind is refused (use Import).
func (s *Store) ImportDataSet(ctx context.Context, req DataSetRequest) (ListInfo, error) {
	if len(req.Files) == 0 {
		return ListInfo{}, errors.New("import: no files given")
	}
	if (req.Delta || req.Replace) && req.Kind != KindWirelessToWireline && req.Kind != KindWirelineToWireless {
		return ListInfo{}, fmt.Errorf("import: --delta and --replace apply to port lists and DNC lists, not to %s", req.Kind)
	}
	switch req.Kind {
	case KindWirelessToWireline, KindWirelineToWireless:
		if len(req.Map) > 0 {
			return ListInfo{}, errors.New("import: a port list has one number per line: --map does not apply")
		}
		return s.Import(ctx, ImportRequest{List: req.Kind, Files: req.Files, Delta: req.Delta, Replace: req.Replace, SourceDate: req.SourceDate, Format: formats.Plain})
	case KindBlocks, KindConsent, KindRND, KindEBR:
	default:
		return ListInfo{}, fmt.Errorf("import: unknown kind %q (use one of %v)", req.Kind, Kinds)
	}
	mapping, err := formats.ParseMapping(req.Map)
	if err != nil {
		return ListInfo{}, err
	}
	if err := checkSourceDate(req.SourceDate); err != nil {
		return ListInfo{}, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.removeStaleSets(); err != nil {
		return ListInfo{}, err
	}
	imp := &setImport{req: req, mapping: mapping, start: time.Now()}
	var written int64
	var publish func(setRecord) error
	if req.Kind == KindBlocks {
		written, publish, err = s.importBlocks(ctx, imp)
	} else {
		written, publish, err = s.importRecords(ctx, imp)
	}
	if err == nil && imp.count == 0 {
		// As for a list (ErrNoNumbers): an empty export would drop every
		// record, consents and line types with them.
		err = fmt.Errorf("%s: %w (%s): nothing was imported, an empty or cut-short export?", req.Kind, ErrNoNumbers, strings.Join(req.Files, ", "))
	}
	if err == nil {
		err = publish(imp.record(written))
	}
	if err != nil {
		if imp.id != 0 {
			s.deletePrefix(setStoragePrefix(imp.id))
		}
		return ListInfo{}, err
	}
	return imp.record(written).Info, nil
}

// setImport is one data set import in progress.
type setImport struct {
	req     DataSetRequest
	mapping formats.Mapping
	id      uint64 // issued once the files are read: a bad file uses up no version
	start   time.Time
	count   int64
	sources []SourceFile
	dates   []datedSource
}

// readFiles reads every file with read, recording what each was.
func (imp *setImport) readFiles(ctx context.Context, layout string, read func(r io.Reader, name string) (string, error)) error {
	for _, path := range imp.req.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		var how string
		file, err := formats.ReadTableFile(path, func(r io.Reader, name string) error {
			var err error
			how, err = read(r, name)
			return err
		})
		if err != nil {
			return err
		}
		if how == "" {
			how = layout
		}
		imp.sources = append(imp.sources, SourceFile{Name: path, Size: file.Size, SHA256: file.SHA256,
			Entries: []formats.Entry{{Name: path, Layout: formats.Layout{Format: formats.Format(how)}}}})
		imp.dates = append(imp.dates, fileDate(filepath.Base(path), file))
	}
	return nil
}

// record describes the finished import.
func (imp *setImport) record(bytes int64) setRecord {
	src := datedSource{}
	if imp.req.SourceDate != "" {
		d, _ := formats.ParseDay(imp.req.SourceDate) // checked by ImportDataSet
		src = datedSource{d, "given"}
	} else if len(imp.dates) > 0 {
		src = imp.dates[0]
		for _, d := range imp.dates[1:] {
			if d.day < src.day {
				src = d
			}
		}
	}
	return setRecord{Storage: imp.id, Info: ListInfo{Name: imp.req.Kind, Version: imp.id, Count: imp.count,
		ImportedAt: imp.start.UTC(), SourceDate: src.day.String(), SourceDateFrom: src.from, Sources: imp.sources, Bytes: bytes}}
}

// publishSet records the data set's new version in one transaction and makes
// it durable; show then makes it visible to lookups, and the old version's
// data is dropped.
func (s *Store) publishSet(rec setRecord, old uint64, show func()) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(setKey(rec.Info.Name), data); err != nil {
			return err
		}
		return recordVersion(txn, rec.Info)
	})
	if err == nil {
		err = s.db.Sync()
	}
	if err != nil {
		return err
	}
	show()
	if old != 0 {
		if err := s.deletePrefix(setStoragePrefix(old)); err != nil {
			slog.Warn("registry: could not delete an old data set version; the next import or start retries", "storage", old, "err", err)
		}
	}
	return nil
}

// DataSets describes the current version of every data set stored beside the
// lists (blocks, consent, rnd, ebr), by kind; the port lists are among Lists.
func (s *Store) DataSets() ([]ListInfo, error) {
	var out []ListInfo
	if t := s.sets.blocks.Load(); t != nil {
		out = append(out, t.rec.Info)
	}
	for _, kind := range recordKinds {
		if rs := s.recordSet(kind); rs != nil {
			out = append(out, rs.rec.Info)
		}
	}
	return out, nil
}
