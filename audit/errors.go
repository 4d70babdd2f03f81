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
