package sip

import (
	"net"
	"net/netip"
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
	peer, _ := addrIP(dest)
	fwd.PrependHeader(p.newVia(transport, peer))
	fwd.SetTransport(strings.ToUpper(transport))
	fwd.SetDestination(dest)
	fwd.SetSource("")
	fwd.Laddr = p.localAddr(transport, peer)
}

// relayed builds the forward of a received request to dest over a
// transport, for Proxy.forward.
func (p *Proxy) relayed(req *sip.Request, dest string) func(transport string) *sip.Request {
	return func(transport string) *sip.Request {
		fwd := req.Clone()
		p.prepareForward(fwd, req.Source(), dest, transport)
		return fwd
	}
}

// localAddr makes UDP requests leave from our listening socket, so that the
// far side sees the same address:port it routes back to. (TCP reuses or
// opens a connection to the destination.)
func (p *Proxy) localAddr(transport string, peer netip.Addr) sip.Addr {
	if transport != "udp" {
		return sip.Addr{}
	}
	ours := p.listens[familyOf(transport, peer)]
	return sip.Addr{IP: ours.Addr().AsSlice(), Port: int(ours.Port())}
}

// newVia is our Via for a request sent over transport to peer, with a fresh branch.
func (p *Proxy) newVia(transport string, peer netip.Addr) *sip.ViaHeader {
	ours := p.listens[familyOf(transport, peer)]
	via := &sip.ViaHeader{
		ProtocolName: "SIP", ProtocolVersion: "2.0",
		Transport: strings.ToUpper(transport),
		Host:      ours.Addr().String(), Port: int(ours.Port()),
	}
	via.Params.Add("branch", p.ownBranch())
	return via
}

// ownBranch is a new Via branch of this process: RFC 3261's magic cookie
// (§8.1.1.7), the process's branchMark and 16 random characters.
func (p *Proxy) ownBranch() string {
	var b strings.Builder
	b.WriteString(p.branchMark)
	return sip.RandStringBytesMask(&b, 16)
}

// sentByUs says that branch is the top Via branch of a request this
// process sent, not an earlier process.
func (p *Proxy) sentByUs(branch string) bool { return strings.HasPrefix(branch, p.branchMark) }

// recordRoute is our Record-Route entry for the side at peer, reached over
// transport, so that in-dialog requests from that side come back through
// the proxy (loose routing); sealed is the dialog's routeParam. A TLS
// side's entry says transport=tls, and is a SIPS URI when the request's
// Request-URI is one (RFC 3261 §16.6 step 4), so that the dialog's requests
// stay on TLS through the proxy.
func (p *Proxy) recordRoute(transport string, peer netip.Addr, sips bool, sealed string) *sip.RecordRouteHeader {
	ours := p.listens[familyOf(transport, peer)]
	scheme := "sip"
	if sips && transport == "tls" {
		scheme = "sips"
	}
	rr := &sip.RecordRouteHeader{Address: sip.Uri{Scheme: scheme, Host: ours.Addr().String(), Port: int(ours.Port())}}
	rr.Address.UriParams.Add("transport", transport)
	rr.Address.UriParams.Add("lr", "")
	rr.Address.UriParams.Add(routeParam, sealed)
	return rr
}

// removeOwnRoutes drops the Route entries that name this proxy (§16.4).
func (p *Proxy) removeOwnRoutes(req *sip.Request) {
	for {
		r := req.Route()
		if r == nil {
			return
		}
		ip, ok := uriAddr(r.Address)
		if !ok || !p.own[netip.AddrPortFrom(ip, uint16(routePort(r.Address)))] {
			return
		}
		req.RemoveHeader("Route")
	}
}

// uriAddr is the IP address a URI's host names (an IPv6 reference keeps its
// brackets in sipgo's Uri), or false for a host name: the proxy resolves none.
func uriAddr(u sip.Uri) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(u.Host, "["), "]"))
	return ip.Unmap(), err == nil
}

func routePort(u sip.Uri) int {
	if u.Port != 0 {
		return u.Port
	}
	if t, _ := u.UriParams.Get("transport"); u.IsEncrypted() || strings.EqualFold(t, "tls") {
		return defaultPort("tls")
	}
	return defaultPort("udp")
}

// defaultPort is the port of a URI that names none: 5061 for TLS, else 5060
// (RFC 3261 §19.1.2).
func defaultPort(transport string) int {
	if transport == "tls" {
		return 5061
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

// responseToRelay strips our Via (and any X-Gatekeeper-Unavailable: the
// carrier's answer is not ours) from a downstream response and addresses it
// to the source of the request it answers. It changes the response itself
// rather than a copy: the client transaction that passed it up is done with
// it (sipgo v1.7.3 builds the ACK of a non-2xx answer, from its To, before
// passing it up, and a retransmission arrives as a response of its own).
func responseToRelay(res *sip.Response, upstream *sip.Request) *sip.Response {
	res.RemoveHeader("Via")
	dropUnavailable(res)
	res.SetDestination(upstream.Source())
	res.SetTransport(upstream.Transport())
	return res
}

// forUs reports whether a downstream response bears no Via but ours, its
// top one: it was meant for the proxy and is not forwarded (RFC 3261 §16.7
// step 3). A carrier that drops the Vias below its top one answers so.
func forUs(res *sip.Response) bool { return len(res.GetHeaders("Via")) < 2 }

// reply answers a request with a status and optional extra headers.
func reply(tx sip.ServerTransaction, req *sip.Request, status int, reason string, hdrs ...sip.Header) error {
	res := sip.NewResponseFromRequest(req, status, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	return tx.Respond(res)
}
