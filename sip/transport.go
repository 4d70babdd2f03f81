package sip

import (
	"context"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// udpMaxRequest is the largest request sent over UDP when the path MTU is
// unknown (RFC 3261 §18.1.1): a larger one goes over TCP.
const udpMaxRequest = 1300

// liftUDPLimit removes sipgo's own refusal of any UDP message over 1300
// bytes (sip.UDPMTUSize less 200), answers included: an answer goes back
// over the transport its request came on whatever its size (§18.2.2), and
// for requests the proxy applies §18.1.1 itself (forward). The operating
// system still refuses a datagram over 65,507 bytes.
var liftUDPLimit sync.Once

// forward sends a request that build prepares for a transport (nil
// transaction for an ACK, which has none), its answers going to on (nil:
// to the transaction's Responses). A request too large for UDP goes
// over TCP instead, unless the config keeps large requests on UDP or the
// proxy has no TCP listener in the peer's IP family; when the peer refuses
// the TCP connection it goes over UDP after all, as §18.1.1 asks. It returns
// the request sent and its transport.
func (p *Proxy) forward(build func(transport string) *sip.Request, transport string, on answerFunc) (*clientTx, *sip.Request, string, error) {
	req := build(transport)
	if transport == "udp" && !p.cfg.LargeRequestsOverUDP && messageSize(req) > udpMaxRequest {
		if peer, _ := addrIP(req.Destination()); p.listens[familyOf("tcp", peer)].IsValid() {
			big := build("tcp")
			tx, err := p.send(big, on)
			if err == nil {
				return tx, big, "tcp", nil
			}
			p.log.Warn("a request too large for UDP could not go over TCP: sending it over UDP",
				"method", req.Method, "call_id", req.CallID().Value(), "destination", req.Destination(), "error", err)
		}
	}
	tx, err := p.send(req, on)
	return tx, req, transport, err
}

func (p *Proxy) send(req *sip.Request, on answerFunc) (*clientTx, error) {
	if req.IsAck() {
		return nil, p.client.WriteRequest(req, asIs)
	}
	return p.transaction(req, on)
}

// connectTimeout bounds setting up a connection for a request: the TCP
// connect and, over TLS, the handshake, which sipgo would otherwise wait for
// without end (a peer that accepts and never answers would hold the call).
const connectTimeout = 5 * time.Second

// transaction sends a request in a new client transaction (clientTxs),
// whose answers go to on (nil: to its Responses).
func (p *Proxy) transaction(req *sip.Request, on answerFunc) (*clientTx, error) {
	// sipgo uses the context only while it gets the connection, which over
	// UDP (our listening socket, an IP address) never waits: no timer then.
	ctx := context.Background()
	if transportOf(req) != "udp" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, connectTimeout)
		defer cancel()
	}
	return p.clientTxs.request(ctx, req, on)
}

// messageSize is the length of a message as it goes on the wire, in bytes.
func messageSize(m sip.Message) int {
	var n byteCount
	m.StringWrite(&n)
	return int(n)
}

type byteCount int

func (n *byteCount) WriteString(s string) (int, error) {
	*n += byteCount(len(s))
	return len(s), nil
}
