package registry

// Options are the settings of a Store. Start from DefaultOptions and change
// what needs changing with the With methods:
//
//	store, err := registry.Open(registry.DefaultOptions(dir).WithCacheSize(0))
type Options struct {
	// Dir is the data directory; Open creates it when it does not exist.
	// An empty Dir keeps the store in memory: an empty registry, for
	// questions asked of a folder where nothing was imported yet.
	Dir string

	// CacheSize bounds, in bytes, the exchange caches of all lists together;
	// past it, lookups read Badger.
	CacheSize int64

	// A list's change lists are folded into its full version when they hold
	// more than FoldChanges numbers or number more than FoldDeltas.
	FoldChanges int64
	FoldDeltas  int

	// MaxRemoval is the share (0 to 1) of a list's numbers a full import may
	// remove; an import that would remove more fails with ErrTooManyRemovals
	// unless its request says Replace. 1 turns the check off.
	MaxRemoval float64
}

// DefaultOptions returns the options of a store in dir, with the defaults
// each With method names.
func DefaultOptions(dir string) Options {
	return Options{
		Dir: dir,
		// The national list (250 M numbers, ~160 MB stored) fits, with room
		// for state and company lists.
		CacheSize: 192 << 20,
		// Folding rewrites the list's full version (seconds at national
		// scale); the FTC's daily change lists stay well below this between
		// monthly full imports.
		FoldChanges: 2_000_000,
		FoldDeltas:  32,
		// A monthly full list differs from the last by a few percent; a
		// file of one area code, or a download cut short, by far more.
		MaxRemoval: 0.10,
	}
}

// WithCacheSize returns opts with CacheSize set to bytes; 0 turns the
// exchange cache off, so that every lookup reads Badger.
//
// The default value of CacheSize is 192 MiB.
func (opts Options) WithCacheSize(bytes int64) Options {
	opts.CacheSize = bytes
	return opts
}

// WithFoldChanges returns opts with FoldChanges set to numbers.
//
// The default value of FoldChanges is 2,000,000 numbers.
func (opts Options) WithFoldChanges(numbers int64) Options {
	opts.FoldChanges = numbers
	return opts
}

// WithFoldDeltas returns opts with FoldDeltas set to n change lists.
//
// The default value of FoldDeltas is 32 change lists.
func (opts Options) WithFoldDeltas(n int) Options {
	opts.FoldDeltas = n
	return opts
}

// WithMaxRemoval returns opts with MaxRemoval set to share (0 to 1).
//
// The default value of MaxRemoval is 0.10 (10 %).
func (opts Options) WithMaxRemoval(share float64) Options {
	opts.MaxRemoval = share
	return opts
}
