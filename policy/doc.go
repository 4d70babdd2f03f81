// Package policy decides whether a call may go out. It reads the admins'
// policy file (file.go: YAML, errors naming FILE:LINE:COL), holds one
// condition kind per file named after its key under match (listed.go,
// outside_hours.go, line_type.go, ...), and its Engine walks the rules: the
// first rule whose conditions all hold decides, and the Decision carries the
// trace of every rule consulted.
//
// It must not know SIP messages or storage: the proxy hands it a Call (plain
// facts) and acts on the Decision it returns, and it asks about lists and
// data sets only through the Registry interface, never Badger itself.
package policy
