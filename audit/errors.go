package audit

import "errors"

// ErrLocked is returned by Open when another writer (usually a running
// `gatekeeper serve`) holds the log's directory: two writers would fork the chain.
var ErrLocked = errors.New("the directory is in use by another writer")

// ErrNoFiles is returned by Verify when the directory holds no decision file
// (decisions-YYYY-MM-DD.jsonl).
var ErrNoFiles = errors.New("no decision files (decisions-YYYY-MM-DD.jsonl)")

// ErrNoSuchCall is returned by Evidence when no decision matches the query.
var ErrNoSuchCall = errors.New("no decision for that call in the log")

// ErrNoSuchRecord is returned by Redact when no file holds the seq.
var ErrNoSuchRecord = errors.New("no record with that seq in the log")

// ErrClosed is returned by AppendSync after Close: the record was not logged.
var ErrClosed = errors.New("the audit log is closed")

// ErrQueueFull is returned by AppendSync when the writer's queue is full: the
// record was dropped (and counted in Dropped).
var ErrQueueFull = errors.New("the audit log's queue is full")

// ErrBacklog is returned by Log.Health when more than half of the writer's
// queue waits: the writer falls behind the calls.
var ErrBacklog = errors.New("the audit writer falls behind")

// ErrNotWriting is returned by Log.Health, and by AppendSync, when the last
// write or fsync of the log failed (a full or failing disk); records wait in
// memory until a write succeeds.
var ErrNotWriting = errors.New("the audit log cannot write to disk")

// ErrUnknownGroup is returned by Stats when it is asked to group by a name
// that is not in StatsGroups.
var ErrUnknownGroup = errors.New("no such group")

// errStop is returned by a function eachLine or eachRecord calls when it has read enough:
// the walk ends early and the caller takes it for success.
var errStop = errors.New("stop")
