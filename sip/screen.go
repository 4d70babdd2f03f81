package sip

import (
	"bytes"
	"net"
	"net/netip"

	"github.com/emiago/sipgo/sip"
)

// Messages from strangers (sources that are no dialer's and not the
// carrier's) never reach sipgo: the sockets' taps (cancel.go) hand them to
// screenStranger, which answers a well-formed request with a stateless 403
// (or nothing, with DropStrangers) and counts everything. No transaction, no
// goroutine, no log line per message: a stranger's flood or garbage costs a
// parse at most.

// known tells whether ip may talk to the proxy at all: a dialer's source or the carrier.
func (p *Proxy) known(ip netip.Addr) bool {
	if p.isCarrier(ip) {
		return true
	}
	_, ok := p.dialerOf(ip)
	return ok
}

// netIP is the IP address of a socket address.
func netIP(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	ip, _ := addrIP(a.String())
	return ip
}

// screenStranger handles one message from a stranger: nothing is relayed.
// A request that passes validation is answered 403 through write, unless
// strangers are dropped; the rest is counted and dropped.
func (p *Proxy) screenStranger(msg []byte, from net.Addr, write func([]byte) error) {
	if len(bytes.Trim(msg, "\r\n\x00")) == 0 {
		return // keepalive
	}
	source := from.String()
	if p.cfg.DropStrangers {
		p.refused.add(Stranger, source)
		return
	}
	parsed, err := p.parser.ParseSIP(msg)
	if err != nil {
		p.refused.add(Unparsable, source)
		return
	}
	p.refused.add(Stranger, source)
	req, ok := parsed.(*sip.Request)
	if !ok || req.IsAck() || validate(req) != nil {
		return // answers and ACKs get none; an invalid request from a stranger is not worth one
	}
	write([]byte(sip.NewResponseFromRequest(req, 403, "Forbidden", nil).String()))
}

// refuseStranger answers a request from a known address that may not send
// it (the carrier outside a dialog it was given, a dialer's source for the
// other side of a dialog) with a stateless 403, or nothing with DropStrangers:
// no transaction, so no retransmissions that a forged source address could
// turn on someone else.
func (p *Proxy) refuseStranger(req *sip.Request) {
	p.refused.add(Stranger, req.Source())
	if p.cfg.DropStrangers {
		return
	}
	if err := p.server.WriteResponse(sip.NewResponseFromRequest(req, 403, "Forbidden", nil)); err != nil {
		p.log.Debug("answering a stranger failed", "source", req.Source(), "error", err)
	}
}
