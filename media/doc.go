// Package media anchors a call's media: it rewrites the SDP of the call's
// offers and answers (RFC 4566, RFC 3264) so that each side sends its RTP
// and RTCP to ports of the gatekeeper, and relays those packets to the
// other side unchanged (RFC 3550: header, SSRC, sequence numbers,
// timestamps and payload as they came; no transcoding).
//
// A Relay holds one session per call (by Call-ID). Each m= line of the
// call's SDP gets a stream of two legs, one facing the dialer and one
// facing the carrier, each an RTP socket on an even port and an RTCP socket
// on the next one, drawn from a configured range. A leg sends to the address
// its side's SDP names until a packet arrives from that side, and from then
// on to where that packet came from (symmetric latching, as NATed phones
// need). A worker per core, waiting in epoll_wait (Linux) on the sockets of
// the streams given to it, relays their packets. A session ends on Release (the call ended) or after IdleTimeout
// without a packet once both sides have given their SDP.
//
// From the answer on (Answered), the first audio stream's G.711 is analysed
// in each direction for the abandoned-call rule (16 CFR 310.4(b)(1)(iv)):
// the called person's greeting on the carrier's stream, the first live
// speech and the campaign's safe-harbor message (SafeHarbor) on the
// dialer's; Release returns the call's Verdict. docs/media.md gives the
// method and its limits.
//
// The package knows nothing of SIP transactions or policy: the proxy calls
// Rewrite with each SDP body of a dialog and the side it came from,
// Answered and AgentSignal as the dialog goes, and Release when the call
// ends.
package media
