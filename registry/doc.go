// Package registry stores the named Do-Not-Call lists and the data sets the
// policy asks about (line types, ports, consent, RND, EBR, attempt counters),
// in an embedded Badger database. It answers whether a number is on a list,
// and which version of the list said so; importers of the source formats
// live in registry/formats.
//
// A list is layers, top first: live changes (dnc add/remove), change lists
// not yet folded (both in memory), then the full version in Badger, one
// bitmap per exchange. A lookup takes the first layer that mentions the
// number: at most one Badger read, none when the exchange cache or the
// exchange filter already answers.
//
// It must not know rules or SIP: it stores and finds records, and what a
// listing or a consent means for a call is the policy's decision.
package registry
