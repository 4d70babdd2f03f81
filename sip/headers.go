package sip

import (
	"fmt"
	"net"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// prepareForward turns a clone of a received request into the request the
// proxy sends on (RFC 3261 §16.6): Max-Forwards decremented, our Route entry
// removed, our Via on top, and the destination set.
func (p *Proxy) prepareForward(fwd *sip.Request, src string, dest, transport string) {
	mf := sip.MaxForwardsHeader(70)
	if h := fwd.MaxForwards(); h != nil && h.Val() > 0 {
		// A new header: Clone() shares the Max-Forwards value with the received request.
		mf = sip.MaxForwardsHeader(h.Val() - 1)
	} else if h != nil {
		mf = 0
	}
	fwd.RemoveHeader("Max-Forwards")
	fwd.AppendHeader(&mf)
	p.removeOwnRoutes(fwd)
	markReceived(fwd, src)
	fwd.PrependHeader(p.newVia(transport))
	fwd.SetTransport(strings.ToUpper(transport))
	fwd.SetDestination(dest)
	fwd.SetSource("")
	fwd.Laddr = p.localAddr(transport)
}

// localAddr makes UDP requests leave from our listening socket, so that the
// far side sees the same address:port it routes back to. (TCP reuses or
// opens a connection to the destination.)
func (p *Proxy) localAddr(transport string) sip.Addr {
	if transport != "udp" {
		return sip.Addr{}
	}
	return sip.Addr{IP: net.ParseIP(p.viaHost), Port: p.viaPorts["udp"]}
}

// newVia is our Via for a request sent over transport, with a fresh branch.
func (p *Proxy) newVia(transport string) *sip.ViaHeader {
	via := &sip.ViaHeader{
		ProtocolName: "SIP", ProtocolVersion: "2.0",
		Transport: strings.ToUpper(transport),
		Host:      p.viaHost, Port: p.viaPorts[transport],
	}
	via.Params.Add("branch", sip.GenerateBranchN(16))
	return via
}

// recordRoute is our Record-Route entry, so that in-dialog requests from
// either side come back through the proxy (loose routing).
func (p *Proxy) recordRoute(transport string) *sip.RecordRouteHeader {
	rr := &sip.RecordRouteHeader{Address: sip.Uri{Scheme: "sip", Host: p.viaHost, Port: p.viaPorts[transport]}}
	rr.Address.UriParams.Add("transport", transport)
	rr.Address.UriParams.Add("lr", "")
	return rr
}

// removeOwnRoutes drops the Route entries that name this proxy (§16.4).
func (p *Proxy) removeOwnRoutes(req *sip.Request) {
	for {
		r := req.Route()
		if r == nil || !p.own[net.JoinHostPort(r.Address.Host, fmt.Sprint(routePort(r.Address)))] {
			return
		}
		req.RemoveHeader("Route")
	}
}

func routePort(u sip.Uri) int {
	if u.Port != 0 {
		return u.Port
	}
	return 5060
}

// markReceived records in the sender's Via where the request came from, so
// that the response path stays with the real source: received when the
// sent-by host differs from the source address (RFC 3261 §18.2.1), and with
// rport both the source port and received, even when the host is the same
// (RFC 3581 §4).
func markReceived(req *sip.Request, src string) {
	via := req.Via()
	if via == nil || src == "" {
		return
	}
	host, port, err := net.SplitHostPort(src)
	if err != nil {
		return
	}
	rport := via.Params.Has("rport")
	if rport {
		via.Params.Add("rport", port)
	}
	if rport || via.Host != host {
		via.Params.Add("received", host)
	}
}

// responseToRelay strips our Via from a downstream response and addresses it
// to the source of the request it answers.
func responseToRelay(res *sip.Response, upstream *sip.Request) *sip.Response {
	out := res.Clone()
	out.RemoveHeader("Via")
	out.SetDestination(upstream.Source())
	out.SetTransport(upstream.Transport())
	return out
}

// reply answers a request with a status and optional extra headers.
func reply(tx sip.ServerTransaction, req *sip.Request, status int, reason string, hdrs ...sip.Header) error {
	res := sip.NewResponseFromRequest(req, status, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	return tx.Respond(res)
}
