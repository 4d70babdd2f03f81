package sip

import (
	"crypto/tls"
	"io"
	"net"
	"time"

	"github.com/emiago/sipgo/sip"
)

// handshakeTimeout bounds a TLS handshake on a listener: a peer that opens a
// connection and sends nothing, or too little, does not hold it longer.
const handshakeTimeout = 10 * time.Second

// tlsListener accepts TLS connections (RFC 3261 §26.3.1) on a TCP
// listener. The handshake runs in the connection's own reader, never in the
// accept loop, so a slow peer holds up no other.
type tlsListener struct {
	net.Listener
	conf *tls.Config
	p    *Proxy
}

func (l tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tlsConn{Conn: tls.Server(c, l.conf), p: l.p}, nil
}

// tlsConn is a server-side TLS connection whose first read completes the
// handshake within handshakeTimeout. A failed handshake (plaintext on the
// TLS port, no or an untrusted client certificate) closes the connection
// and reads as its end: it is counted as a TLSHandshake refusal, which the
// refusal summary logs, never a line per connection.
type tlsConn struct {
	*tls.Conn
	p          *Proxy
	handshaken bool // only the connection's reader reads
}

func (c *tlsConn) Read(b []byte) (int, error) {
	if !c.handshaken {
		c.handshaken = true
		c.SetDeadline(time.Now().Add(handshakeTimeout))
		err := c.Handshake()
		c.SetDeadline(time.Time{})
		if err != nil {
			c.p.refused.add(TLSHandshake, c.RemoteAddr().String())
			c.Close()
			return 0, io.EOF
		}
	}
	return c.Conn.Read(b)
}

// secureEnough answers 416 to a new INVITE whose Request-URI is a SIPS URI
// when either hop is not TLS: a SIPS request goes over TLS on every hop
// (RFC 3261 §26.2.2), and the proxy would rather refuse it
// than carry it in the clear. It reports whether the INVITE may go on.
func (p *Proxy) secureEnough(req *sip.Request, tx sip.ServerTransaction) bool {
	if !req.Recipient.IsEncrypted() || transportOf(req) == "tls" && p.carrier.transport == "tls" {
		return true
	}
	p.invalid.Add(1)
	reply(tx, req, 416, "Unsupported URI Scheme", sip.NewHeader("Warning", `399 gatekeeper "a SIPS URI needs TLS to the dialer and to the carrier"`))
	return false
}
