package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/internal/admin"
	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// versions is where the version in force of a list or of the consent data
// set is read, for the records of live changes.
type versions interface {
	ListDate(list string) (version uint64, asOf time.Time, ok bool)
	Consents(e164 string) ([]registry.ConsentRecord, []registry.ConsentChange, uint64, error)
}

// appendChange writes the data_change records of a change to log: one for
// an import, one per number for live changes, so that a call's evidence
// holds no other called number.
func appendChange(log *audit.Log, at time.Time, reg versions, c admin.Change) error {
	var records []dataChangeRecord
	switch {
	case c.Import != nil:
		// Decisions citing the import's version name this record.
		imp := audit.DataImport{Set: c.Kind + "/" + c.Import.Name, Version: c.Import.Version}
		return log.AppendImport(at, imp, importChange(c.Kind, *c.Import, c.By, c.Via))
	case c.Consent != nil:
		_, _, version, err := reg.Consents(c.Consent.Number)
		if err != nil {
			return err
		}
		records = append(records, consentChange(version, *c.Consent))
	case len(c.Live) > 0:
		version, _, _ := reg.ListDate(c.Live[0].List)
		records = liveChanges(version, c.Live)
	}
	var errs []error
	for _, r := range records {
		errs = append(errs, log.AppendEvent(audit.KindDataChange, at, r))
	}
	return errors.Join(errs...)
}

// lostImportRecord is the recovered field of a record written at start for
// a version in force that the log held no record of.
const lostImportRecord = "recorded at start: the import's own record was lost in a crash"

// recordLostImports writes a data_change record for each list and data set
// whose version in force has none in log: the registry commits an import
// before its record is written, so a crash in between leaves a version
// decisions cite that nothing in the log explains. The record is made of
// what the registry keeps of that version (files, sha256, source date,
// count), and logged as a warning. It is called once log is open, before
// any decision, so that the decisions after it name it. A log that cannot
// tell which imports it holds (import-hashes.jsonl lost) gets none: a
// version recorded before would be recorded twice.
func recordLostImports(log *audit.Log, at time.Time, store *registry.Store, via string, logger *slog.Logger) error {
	if _, known := log.ImportRecorded(0); !known {
		logger.Warn("audit: which imports the log records is not known; a version in force whose record a crash lost stays unrecorded")
		return nil
	}
	lists, err := store.Lists()
	if err != nil {
		return err
	}
	sets, err := store.DataSets()
	if err != nil {
		return err
	}
	for i, info := range slices.Concat(lists, sets) {
		if recorded, _ := log.ImportRecorded(info.Version); info.Version == 0 || recorded {
			continue
		}
		kind := info.Name // a data set's, or a port list's
		if i < len(lists) && info.Name != registry.KindWirelessToWireline && info.Name != registry.KindWirelineToWireless {
			kind = registry.KindDNC
		}
		r := importChange(kind, info, "", via)
		r.Recovered = lostImportRecord
		if err := log.AppendImport(at, audit.DataImport{Set: kind + "/" + info.Name, Version: info.Version}, r); err != nil {
			return err
		}
		logger.Warn("audit: the version in force had no record in the log (an import cut short by a crash); recorded it now",
			"data_kind", kind, "list", info.Name, "version", info.Version)
	}
	return nil
}

// recordingStore is the registry opened by the CLI itself, while no server
// runs: each change it makes is recorded in the audit log, as the server
// records the changes made through it.
type recordingStore struct {
	*registry.Store
	log *audit.Log
}

// openRecordingStore opens the audit log of cfg beside store, before
// anything changes: a log held by another process (ErrLocked) or unwritable
// is an error, and the registry is left as it was.
func openRecordingStore(cfg *config.Config, store *registry.Store) (*recordingStore, error) {
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir, opts, err := auditOptions(cfg, quiet)
	if err != nil {
		return nil, err
	}
	log, err := audit.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open audit log %s to record the change: %w", dir, err)
	}
	if err := recordLostImports(log, time.Now(), store, "cli", quiet); err != nil {
		return nil, errors.Join(fmt.Errorf("record the versions in force: %w", err), log.Close())
	}
	return &recordingStore{Store: store, log: log}, nil
}

func (s *recordingStore) record(c admin.Change) error {
	if err := appendChange(s.log, time.Now(), s.Store, c); err != nil {
		return fmt.Errorf("the change was made, but its audit record failed: %w", err)
	}
	return nil
}

func (s *recordingStore) Import(ctx context.Context, req registry.ImportRequest) (registry.ListInfo, error) {
	info, err := s.Store.Import(ctx, req)
	if err != nil {
		return info, err
	}
	return info, s.record(admin.Change{Kind: registry.KindDNC, Import: &info, By: operator(), Via: "cli"})
}

func (s *recordingStore) ImportDataSet(ctx context.Context, req registry.DataSetRequest) (registry.ListInfo, error) {
	info, err := s.Store.ImportDataSet(ctx, req)
	if err != nil {
		return info, err
	}
	return info, s.record(admin.Change{Kind: req.Kind, Import: &info, By: operator(), Via: "cli"})
}

func (s *recordingStore) ChangeLive(req registry.LiveRequest) ([]registry.Change, error) {
	cs, err := s.Store.ChangeLive(req)
	if err != nil {
		return cs, err
	}
	return cs, s.record(admin.Change{Live: cs, By: req.By, Via: req.Via})
}

func (s *recordingStore) ChangeConsent(req registry.ConsentRequest) (registry.ConsentChange, error) {
	c, err := s.Store.ChangeConsent(req)
	if err != nil {
		return c, err
	}
	return c, s.record(admin.Change{Consent: &c, By: req.By, Via: req.Via})
}

// Close closes the audit log (its records written, a checkpoint signed) and the store.
func (s *recordingStore) Close() error {
	return errors.Join(s.log.Close(), s.Store.Close())
}
