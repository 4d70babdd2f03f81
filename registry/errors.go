package registry

import "errors"

// ErrLocked is returned by Open when another process (usually a running
// `gatekeeper serve`) has the data directory open: Badger allows one process
// per directory.
var ErrLocked = errors.New("the data directory is in use by another process")

// ErrTooManyRemovals is returned by Import when a full import would remove
// more of a list's numbers than Options.MaxRemoval allows and the request
// does not say Replace.
var ErrTooManyRemovals = errors.New("a full import would remove too much of the list")

// ErrNoNumbers is returned by Import when the files of a full import hold
// no number (an empty or cut-short download) and the request does not say
// Replace: the list would become empty, and fresh; and by ImportDataSet
// when the files hold no record.
var ErrNoNumbers = errors.New("the files hold no numbers")

// errMoved is returned by readTxn when the catalog changed while a lookup
// opened its transaction: the lookup starts again from the new catalog.
var errMoved = errors.New("catalog moved")

// errBadValue is returned when a stored exchange value does not decode:
// its length or a line in it is out of range.
var errBadValue = errors.New("malformed exchange value")

// errCorruptRecord is returned when a stored data set record does not decode.
var errCorruptRecord = errors.New("corrupt record")

// errShortChangeSet is returned when a stored change set ends before its bitmaps do.
var errShortChangeSet = errors.New("stored change set is cut short")
