// Package audit keeps the decision log: one JSON record per line for every
// call the gatekeeper allowed or rejected, in one file per UTC day, chained by
// SHA-256 so that an auditor can prove years later that no record was altered,
// removed or inserted. docs/audit.md describes the format for auditors.
//
// It must not know SIP or storage: it writes the records it is handed, and
// never decides or looks anything up itself.
package audit
