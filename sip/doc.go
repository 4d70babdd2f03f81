// Package sip is the gatekeeper's SIP proxy: a transaction-stateful,
// record-routing proxy (RFC 3261 §16) between the call center's dialers and
// its carrier. It validates each request (RFC 3261 §16.3), answers 100 Trying
// at once, reads the facts of every new outbound INVITE into a plain
// policy.Call (facts.go), acts on the policy.Decision it gets back, and routes
// in-dialog requests by its dialog table, so that it is never an open relay.
//
// It must not know lists, rules or storage: what a call may do is the
// policy's answer, never a check of its own. It hands each decision and the
// final status to a DecisionSink and does not know how the audit log keeps them.
package sip
