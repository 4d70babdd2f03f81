package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/dgraph-io/badger/v4"

	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// ImportRequest asks for a new version of a list, read from files.
type ImportRequest struct {
	List string `json:"list"`
	// Files are read by the process that holds the store (paths should be absolute).
	Files []string `json:"files"`
	// Delta applies the files as changes to the current version (FTC change
	// lists: additions and deletions; any other format: additions) instead of
	// replacing it.
	Delta bool `json:"delta,omitempty"`
	// Replace lets a full import remove more of the list than
	// Options.MaxRemoval allows: the files are the whole list.
	Replace bool           `json:"replace,omitempty"`
	Format  formats.Format `json:"format,omitempty"` // "" recognizes each file's format
	Column  string         `json:"column,omitempty"` // the CSV column holding the numbers
	// SourceDate (YYYY-MM-DD) is the date the data is as of; without it the
	// importer takes it from the change list's dates, the file names, the zip
	// entries or the files' modification times, in that order.
	SourceDate string `json:"source_date,omitempty"`
	// SkipInvalid counts unreadable lines and lists them in InvalidReport
	// (default: DATA_DIR/reports/LIST-TIME-invalid.txt) instead of failing.
	SkipInvalid   bool   `json:"skip_invalid,omitempty"`
	InvalidReport string `json:"invalid_report,omitempty"`
	// Undeclared takes a list the policy does not declare; without it the
	// admin API and the commands refuse one (the registry knows no policy).
	Undeclared bool `json:"undeclared,omitempty"`
	// ID, when set, is kept with the version the import makes
	// (ListInfo.ImportID), in the transaction that switches to it: a caller
	// that lost the answer (the server was killed) finds out from the list
	// whether its import is in force.
	ID string `json:"id,omitempty"`
	// Progress, when not nil, is called a few times a second.
	Progress func(Progress) `json:"-"`
}

// Progress reports how far an import is.
type Progress struct {
	Phase   string        `json:"phase"`   // "read", "compare" (with the list's current version), "write" or "fold"
	Done    int64         `json:"done"`    // bytes read (read) or exchanges written (write, fold)
	Total   int64         `json:"total"`   // of Done's unit
	Numbers int64         `json:"numbers"` // numbers read so far
	Elapsed time.Duration `json:"elapsed"` // since the import began
}

// progressEvery is how often Progress is called at most.
const progressEvery = 200 * time.Millisecond

// Import reads the files into a new version of the list and makes it the
// current one, or, with req.Delta, applies them as changes. It is all or
// nothing: the files are read completely before anything is written; the
// data is written under keys no reader knows; one transaction switches the
// list to it. A bad line fails the import with an error naming FILE:LINE
// (unless req.SkipInvalid), and the previous version keeps answering.
// Cancelling ctx abandons the import the same way. Live changes made before
// or during the import stay in force on top of it (see ChangeLive).
func (s *Store) Import(ctx context.Context, req ImportRequest) (ListInfo, error) {
	if err := CheckListName(req.List); err != nil {
		return ListInfo{}, err
	}
	if len(req.Files) == 0 {
		return ListInfo{}, errors.New("import: no files given")
	}
	if req.Delta && req.Replace {
		return ListInfo{}, errors.New("import: --replace goes with a full import, not with --delta")
	}
	if _, err := formats.ParseFormat(string(req.Format)); err != nil {
		return ListInfo{}, err
	}
	if err := checkSourceDate(req.SourceDate); err != nil {
		return ListInfo{}, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.removeStaleVersions(); err != nil {
		return ListInfo{}, err
	}
	rd, err := s.newFileReader(ctx, req)
	if err != nil {
		return ListInfo{}, err
	}
	defer rd.close()
	if req.Delta {
		return s.importChanges(ctx, req, rd)
	}
	return s.importFull(ctx, req, rd)
}

func (s *Store) importFull(ctx context.Context, req ImportRequest, rd *fileReader) (ListInfo, error) {
	numbers, err := newNumberSet()
	if err != nil {
		return ListInfo{}, err
	}
	defer numbers.Close()
	err = rd.readAll(func(lay formats.Layout) error {
		if lay.Format == formats.FTCChanges {
			return fmt.Errorf("%s is a change list (%s): apply it with --delta", rd.current, lay)
		}
		return nil
	}, func(r formats.Record) error {
		return numbers.add(r.Number)
	})
	if err != nil {
		return ListInfo{}, err
	}
	switch {
	case numbers.count == 0 && rd.invalid > 0:
		// Every line malformed (a changed download format): never a way to
		// empty the list, whatever the request says.
		return ListInfo{}, fmt.Errorf("list %s: %w (%s): %d malformed lines and none read, listed in %s: nothing was imported",
			req.List, ErrNoNumbers, strings.Join(req.Files, ", "), rd.invalid, rd.invalidReport)
	case numbers.count == 0 && !req.Replace:
		return ListInfo{}, fmt.Errorf("list %s: %w (%s): nothing was imported. "+
			"An empty or cut-short download would leave the list empty and fresh; to make it empty, add --replace",
			req.List, ErrNoNumbers, strings.Join(req.Files, ", "))
	}
	if !req.Replace {
		if err := s.checkRemovals(ctx, req.List, numbers, rd); err != nil {
			return ListInfo{}, err
		}
	}

	id, err := s.nextID()
	if err != nil {
		return ListInfo{}, err
	}
	written, err := s.writeNumbers(ctx, id, numbers, rd)
	if err != nil {
		s.dropStorage(id)
		return ListInfo{}, err
	}
	info := rd.info(req.List, id)
	info.Count = numbers.count
	info.Base = id
	info.Bytes = written.bytes
	next := &list{
		rec:    listRecord{Info: info, BaseStorage: id, BaseBytes: written.bytes},
		filter: written.filter,
		cache:  s.newCache(written.bytes),
	}
	old, err := s.switchTo(next, rd.sourceDay(), func(n num) (bool, error) { return s.importedHolds(nil, next, n) })
	if err != nil {
		s.dropStorage(id)
		return ListInfo{}, err
	}
	if old != nil {
		s.dropStorage(old.rec.storages()...)
	}
	s.warmNew(ctx, next)
	return s.current(req.List), nil
}

// checkRemovals refuses a full import that would remove more than
// Options.MaxRemoval of the numbers the list's imported data holds (live
// changes aside: they stay in force over any import). A file of one area
// code imported over the national list, or a download cut short, would
// otherwise take millions of numbers off it without a word. It runs before
// anything is written, so a refused import leaves the list as it was.
func (s *Store) checkRemovals(ctx context.Context, name string, next *numberSet, rd *fileReader) error {
	cur := s.catalog.Load().lists[name]
	if cur == nil || cur.rec.Info.Count == 0 || s.opts.MaxRemoval >= 1 {
		return nil
	}
	removed, err := s.removedBy(ctx, cur, next, rd)
	if err != nil {
		return err
	}
	held := cur.rec.Info.Count
	if float64(removed) <= s.opts.MaxRemoval*float64(held) {
		return nil
	}
	return fmt.Errorf("list %s: %w: %d of its %d numbers would go (%s, more than the %s a full import may remove), as the files hold %s. "+
		"To apply the files as changes, import them with --delta; to make them the whole list anyway, add --replace",
		name, ErrTooManyRemovals, removed, held, shareOf(removed, held), percent(s.opts.MaxRemoval), countOf(next.count, "number"))
}

// removedBy counts the numbers of cur's imported data (its full version with
// its change lists applied) that next does not hold.
func (s *Store) removedBy(ctx context.Context, cur *list, next *numberSet, rd *fileReader) (int64, error) {
	txn := s.db.NewTransaction(false) // under writeMu the list's data cannot change
	defer txn.Discard()
	base := openBaseExchanges(txn, cur.rec.BaseStorage)
	defer base.close()
	removed := int64(0)
	err := foldExchanges(ctx, base, newFoldChanges(cur.deltas), cur.filter, rd, "compare", func(exchange uint32, value []byte) error {
		var held exchangeLines
		if err := decodeLines(value, &held); err != nil {
			return err
		}
		removed += int64(held.missingFrom(next.holds(exchange)))
		return nil
	})
	if err != nil {
		return 0, err
	}
	foreign, err := foldedForeign(txn, cur)
	if err != nil {
		return 0, err
	}
	for e164 := range foreign {
		if _, ok := next.foreign[e164]; !ok {
			removed++
		}
	}
	return removed, nil
}

// countOf writes n things: "1 number", "2 numbers".
func countOf(n int64, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.FormatInt(n, 10) + " " + thing + "s"
}

// percent writes a share as a percentage: 0.1 is "10%", 0.025 "2.5%".
func percent(share float64) string {
	return strconv.FormatFloat(math.Round(share*1000)/10, 'f', -1, 64) + "%"
}

// shareOf writes part/whole as a percentage rounded up to a tenth, so that a
// share just over a limit never reads as the limit itself: 2 of 3 is "66.7%",
// 1001 of 10000 "10.1%".
func shareOf(part, whole int64) string {
	permille := (part*1000 + whole - 1) / whole
	if permille%10 == 0 {
		return strconv.FormatInt(permille/10, 10) + "%"
	}
	return fmt.Sprintf("%d.%d%%", permille/10, permille%10)
}

// warmNew fills the cache of a version just made, when the store is kept warm.
// The version is in force already: a failure only leaves the cache to fill on demand.
func (s *Store) warmNew(ctx context.Context, l *list) {
	if !s.warm.Load() {
		return
	}
	if err := s.warmList(ctx, l); err != nil {
		slog.Warn("registry: could not read a new version into the cache; calls will", "list", l.rec.Info.Name, "err", err)
	}
}

// switchTo publishes next as the list's new state. The list keeps its live
// changes, except the removals that next's data supersedes: a removal made
// before the day the new data is as of, of a number the new data lists (a
// newer source says it is listed again). It returns the state it replaced.
func (s *Store) switchTo(next *list, sourceDay formats.Day, lists func(num) (bool, error)) (*list, error) {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	old := s.catalog.Load().lists[next.rec.Info.Name]
	next.live = newChangeSet()
	if old != nil {
		next.live = old.live
	}
	superseded, err := s.supersededRemovals(next, sourceDay, lists)
	if err != nil {
		return nil, err
	}
	if len(superseded) > 0 {
		next.live = next.live.clone()
		for _, c := range superseded {
			next.live.forget(parseNum(c.Number))
		}
	}
	err = s.publish(next, func(txn *badger.Txn) error {
		if err := recordVersion(txn, next.rec.Info); err != nil {
			return err
		}
		for i, c := range superseded {
			if err := writeChange(txn, c, i, 0); err != nil {
				return err
			}
		}
		return nil
	})
	return old, err
}

// current returns the list's info as lookups see it now.
func (s *Store) current(name string) ListInfo {
	return s.catalog.Load().lists[name].info()
}

// storedNumbers is what writeNumbers wrote.
type storedNumbers struct {
	bytes  int64
	filter *roaring.Bitmap
}

// writeNumbers writes a full version under a new storage id, in key order. A
// WriteBatch rather than a StreamWriter: the StreamWriter stops all other
// writes while it runs and is meant for databases nobody is using, while this
// one serves lookups, live changes and attempt counters. With one key per
// exchange the national list is ~260,000 keys, so the batch is not the bottleneck.
//
// The GC runs more often meanwhile: Badger's table builders hold ~200 MB at
// national scale, and the default (next GC at twice the live heap) let the
// process grow by as much again in garbage.
func (s *Store) writeNumbers(ctx context.Context, id uint64, ns *numberSet, rd *fileReader) (storedNumbers, error) {
	defer debug.SetGCPercent(debug.SetGCPercent(importGCPercent))
	out := storedNumbers{filter: roaring.New()}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	set := func(key, value []byte) error {
		out.bytes += int64(len(key) + len(value))
		return wb.Set(key, value)
	}
	total := int64(0)
	for _, w := range ns.present {
		total += int64(bits.OnesCount64(w))
	}
	done := int64(0)
	err := ns.exchanges(func(exchange uint32, x *exchangeLines) error {
		if done%cancelCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			rd.report("write", done, total)
		}
		done++
		value, err := x.encode()
		if err != nil {
			return err
		}
		out.filter.Add(exchange)
		return set(exchangeKey(nil, id, exchange), value)
	})
	if err != nil {
		return out, err
	}
	if err := writeForeignAndFilter(set, id, ns.foreign, out.filter); err != nil {
		return out, err
	}
	rd.report("write", total, total)
	return out, wb.Flush()
}

// writeForeignAndFilter writes the numbers outside the NANP in key order, then
// the exchange filter: the last keys of a storage id, after its exchanges.
func writeForeignAndFilter(set func(key, value []byte) error, id uint64, foreign map[string]struct{}, filter *roaring.Bitmap) error {
	for _, e164 := range slices.Sorted(maps.Keys(foreign)) {
		if err := set(foreignKey(nil, id, e164), foreignValue); err != nil {
			return err
		}
	}
	filter.RunOptimize()
	value, err := filter.ToBytes()
	if err != nil {
		return err
	}
	return set(filterKey(id), value)
}

// importGCPercent is GOGC while an import writes.
const importGCPercent = 25

// cancelCheckEvery is how many numbers (or exchanges) pass between looks at the context.
const cancelCheckEvery = 1 << 14

// fileReader reads the files of one import: it reports progress, counts and
// reports invalid lines, and remembers what each file was.
type fileReader struct {
	ctx     context.Context
	req     ImportRequest
	start   time.Time
	total   int64 // bytes of all files
	done    int64 // bytes of the files already read
	numbers int64
	current string // the file being read

	invalid       int64
	invalidReport string   // where skipped lines are listed
	reportFile    *os.File // created at the first skipped line

	sources  []SourceFile
	dates    []datedSource // per file: the date it is as of, and how that was found
	maxDate  formats.Day   // the latest date of a change list's lines
	lastShow time.Time
}

type datedSource struct {
	day  formats.Day
	from string
}

func (s *Store) newFileReader(ctx context.Context, req ImportRequest) (*fileReader, error) {
	rd := &fileReader{ctx: ctx, req: req, start: time.Now()}
	for _, f := range req.Files {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		rd.total += fi.Size()
	}
	if req.SkipInvalid {
		rd.invalidReport = req.InvalidReport
		if rd.invalidReport == "" {
			rd.invalidReport = filepath.Join(s.opts.Dir, "reports", fmt.Sprintf("%s-%s-invalid.txt", req.List, rd.start.UTC().Format("20060102T150405Z")))
		}
	}
	return rd, nil
}

func (rd *fileReader) close() {
	if rd.reportFile != nil {
		rd.reportFile.Close()
	}
}

// report calls the request's Progress, at most every progressEvery unless the phase is done.
func (rd *fileReader) report(phase string, done, total int64) {
	if rd.req.Progress == nil {
		return
	}
	done = min(done, total) // a zip archive's directory is read more than once
	now := time.Now()
	if now.Sub(rd.lastShow) < progressEvery && done < total {
		return
	}
	rd.lastShow = now
	rd.req.Progress(Progress{Phase: phase, Done: done, Total: total, Numbers: rd.numbers, Elapsed: now.Sub(rd.start)})
}

// readAll reads every file: layout is told how each list will be read, record gets its numbers.
func (rd *fileReader) readAll(layout func(formats.Layout) error, record func(formats.Record) error) error {
	opts := formats.Options{Format: rd.req.Format, Column: rd.req.Column}
	sink := formats.Sink{
		Layout: layout,
		Record: func(r formats.Record) error {
			if rd.numbers++; rd.numbers%cancelCheckEvery == 0 {
				if err := rd.ctx.Err(); err != nil {
					return err
				}
			}
			rd.maxDate = max(rd.maxDate, r.Date)
			return record(r)
		},
	}
	if rd.req.SkipInvalid {
		sink.Invalid = rd.skip
	}
	for _, path := range rd.req.Files {
		if err := rd.ctx.Err(); err != nil {
			return err
		}
		rd.current = path
		// The reader reads ahead of the numbers it hands on: the phase is
		// done only when every number is read (the report after the loop).
		file, err := formats.ReadFile(path, opts, sink, func(n int64) { rd.report("read", min(rd.done+n, max(rd.total-1, 0)), rd.total) })
		if err != nil {
			return err
		}
		rd.done += file.Size
		rd.sources = append(rd.sources, SourceFile{Name: path, Size: file.Size, SHA256: file.SHA256, Entries: file.Entries})
		rd.dates = append(rd.dates, fileDate(path, file))
	}
	rd.report("read", rd.total, rd.total)
	return nil
}

// skip writes an invalid line to the report and goes on.
func (rd *fileReader) skip(e *formats.LineError) error {
	if rd.reportFile == nil {
		if err := os.MkdirAll(filepath.Dir(rd.invalidReport), 0o750); err != nil {
			return err
		}
		f, err := os.Create(rd.invalidReport)
		if err != nil {
			return err
		}
		rd.reportFile = f
	}
	rd.invalid++
	_, err := fmt.Fprintln(rd.reportFile, e.Error())
	return err
}

// fileDate is the date a file's data is as of: a date in its name, else its
// zip entries' oldest time, else its modification time.
func fileDate(path string, file formats.File) datedSource {
	if d, ok := formats.DayInName(filepath.Base(path)); ok {
		return datedSource{d, "file name"}
	}
	var oldest time.Time
	for _, e := range file.Entries {
		if !e.ModTime.IsZero() && (oldest.IsZero() || e.ModTime.Before(oldest)) {
			oldest = e.ModTime
		}
	}
	if !oldest.IsZero() {
		return datedSource{formats.DayOf(oldest), "zip entry time"}
	}
	return datedSource{formats.DayOf(file.ModTime), "file modification time"}
}

// source returns the day the import's data is as of and how it was found:
// the request's date, else a change list's latest line date, else the
// oldest of the files' dates (a list is only as fresh as its oldest part).
func (rd *fileReader) source() datedSource {
	switch {
	case rd.req.SourceDate != "":
		d, _ := formats.ParseDay(rd.req.SourceDate) // checked by Import
		return datedSource{d, "given"}
	case rd.maxDate != 0:
		return datedSource{rd.maxDate, "change list dates"}
	}
	oldest := rd.dates[0]
	for _, d := range rd.dates[1:] {
		if d.day < oldest.day {
			oldest = d
		}
	}
	return oldest
}

func (rd *fileReader) sourceDay() formats.Day { return rd.source().day }

// info describes the import with the given id, as far as the reader knows it.
func (rd *fileReader) info(name string, id uint64) ListInfo {
	src := rd.source()
	info := ListInfo{
		Name: name, Version: id, ImportID: rd.req.ID, ImportedAt: time.Now().UTC(),
		SourceDate: src.day.String(), SourceDateFrom: src.from, Sources: rd.sources, Invalid: rd.invalid,
	}
	if rd.invalid > 0 {
		info.InvalidReport = rd.invalidReport
	}
	return info
}

// checkSourceDate refuses a --source-date that is given but not a day.
func checkSourceDate(day string) error {
	if day == "" {
		return nil
	}
	if _, err := formats.ParseDay(day); err != nil {
		return fmt.Errorf("source date: %v", err)
	}
	return nil
}
