package policy

// Registry is what the policy asks of the data store. registry.Store
// implements it; the policy never sees how the lists are stored.
type Registry interface {
	// Listed reports whether the E.164 number is on the named list.
	Listed(list, e164 string) (bool, error)
	// HasList reports whether a list of that name has been loaded.
	HasList(list string) bool
}
