package sip

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// The dialog table lives in memory, so a restarted gatekeeper would answer
// every hang-up of a call set up before it 481 and leave the carrier billing
// a call nobody is on. Instead of writing each dialog to disk, the proxy
// writes the dialog's sides into its own Record-Route entries (RFC 3261
// §16.6 step 4 lets a proxy put what it likes in its URI), sealed with
// HMAC-SHA256 under a key kept across restarts: every in-dialog request then
// carries what routing it needs in its Route header (§12.2.1.1), and only
// what the gatekeeper sealed itself routes anything. A request whose seal is
// missing or does not verify is treated as one for an unknown dialog (403 to
// strangers, else 481): nothing is forwarded, so the seal opens no relay.

// routeParam is the Record-Route URI parameter that carries a dialog's sealed sides.
const routeParam = "gk-dlg"

// routeMACSize is the length of the seal's MAC, truncated (RFC 2104 §5 allows
// half the hash: 128 bits).
const routeMACSize = 16

// RouteKeySize is the length of Config.RouteKey, in bytes.
const RouteKeySize = 32

// NewRouteKey returns a fresh random key for Config.RouteKey.
func NewRouteKey() []byte {
	key := make([]byte, RouteKeySize)
	rand.Read(key) // never fails (crypto/rand, Go 1.24)
	return key
}

// sides are what routes a dialog's in-dialog requests: the dialer (its
// name, to check sources against), where it is reached, and the transports
// toward each side.
type sides struct {
	dialer, dialerAddr, dialerTransport, carrierTransport string
}

// seal is the value of routeParam for a dialog: the sides and a MAC over
// them, the Call-ID and the dialer's From tag, base64url-encoded.
func (p *Proxy) seal(callID, dialerTag string, s sides) string {
	payload := []byte(strings.Join([]string{s.dialer, s.dialerAddr, s.dialerTransport, s.carrierTransport}, "\x00"))
	return base64.RawURLEncoding.EncodeToString(append(payload, p.routeMAC(callID, dialerTag, payload)...))
}

func (p *Proxy) routeMAC(callID, dialerTag string, payload []byte) []byte {
	m, _ := p.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, p.cfg.RouteKey)
	}
	defer p.macs.Put(m)
	// A used HMAC's Reset restores its keyed state instead of hashing the
	// key's two blocks again (half of a seal's SHA-256 blocks).
	m.Reset()
	m.Write([]byte(callID))
	m.Write([]byte{0})
	m.Write([]byte(dialerTag))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)[:routeMACSize]
}

// unseal reads a routeParam value sealed for the Call-ID and dialer tag.
func (p *Proxy) unseal(value, callID, dialerTag string) (sides, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) <= routeMACSize {
		return sides{}, false
	}
	payload, mac := raw[:len(raw)-routeMACSize], raw[len(raw)-routeMACSize:]
	if !hmac.Equal(mac, p.routeMAC(callID, dialerTag, payload)) {
		return sides{}, false
	}
	f := strings.Split(string(payload), "\x00")
	if len(f) != 4 {
		return sides{}, false
	}
	return sides{dialer: f[0], dialerAddr: f[1], dialerTransport: f[2], carrierTransport: f[3]}, true
}

// recover rebuilds the dialog of an in-dialog request the table does not
// hold (the gatekeeper restarted since the call was set up) from the seal in
// its Route entries that name this proxy; route checks the request's source
// before the dialog goes back in the table. The seal verifies with the From
// tag for a request from the dialer's side and with the To tag for one from
// the carrier's. It returns nil when no seal verifies or its dialer is no
// longer configured. The call's decision and its outcome record stay with
// the process that set it up.
func (p *Proxy) recover(req *sip.Request) *dialog {
	dl, fromDialerSide := p.unsealDialog(req.GetHeaders("Route"), req.CallID().Value(), req.From(), req.To())
	// A request from the dialer came over a flow that reaches it now (a TCP
	// connection of the old process is gone, a NAT binding may have moved).
	if ip, _ := addrIP(req.Source()); dl != nil && fromDialerSide && inSources(dl.dialer, ip) {
		dl.dialerAddr, dl.dialerTransport = req.Source(), transportOf(req)
	}
	return dl
}

// recoverAnswer rebuilds the dialog of a 2xx to an INVITE that the
// previous process forwarded, from the seal in its Record-Route entries
// (the carrier copies them into its answer, RFC 3261 §12.1.1), so that a
// call the carrier answers across a restart reaches the dialer rather than
// being left up at the carrier alone. relayStray2xx checks its source.
func (p *Proxy) recoverAnswer(res *sip.Response) *dialog {
	if res.From() == nil || res.To() == nil {
		return nil
	}
	dl, _ := p.unsealDialog(res.GetHeaders("Record-Route"), res.CallID().Value(), res.From(), res.To())
	return dl
}

// unsealDialog is the dialog sealed in the first of routes (Route or
// Record-Route entries) that names this proxy and carries a seal, checked
// against the Call-ID and the From tag, then the To tag; fromDialerSide
// tells that it verified with the From tag.
func (p *Proxy) unsealDialog(routes []sip.Header, callID string, from *sip.FromHeader, to *sip.ToHeader) (dl *dialog, fromDialerSide bool) {
	value := p.ownRouteParam(routes)
	if value == "" {
		return nil, false
	}
	fromTag, _ := from.Params.Get("tag")
	toTag, _ := to.Params.Get("tag")
	dialerTag := fromTag
	s, ok := p.unseal(value, callID, fromTag)
	if !ok {
		dialerTag = toTag
		if s, ok = p.unseal(value, callID, toTag); !ok {
			return nil, false
		}
	}
	var d *Dialer
	for i := range p.cfg.Dialers {
		if p.cfg.Dialers[i].Name == s.dialer {
			d = &p.cfg.Dialers[i]
		}
	}
	if d == nil {
		return nil, false
	}
	return &dialog{
		callID: callID, dialerTag: dialerTag, dialer: d,
		dialerAddr: s.dialerAddr, dialerTransport: s.dialerTransport, carrierTransport: s.carrierTransport,
		created: time.Now(),
	}, dialerTag == fromTag
}

// ownRouteParam is the routeParam of the first entry of routes (Route or
// Record-Route) naming this proxy that has one, "" when none does.
func (p *Proxy) ownRouteParam(routes []sip.Header) string {
	for _, h := range routes {
		var u sip.Uri
		switch r := h.(type) {
		case *sip.RouteHeader:
			u = r.Address
		case *sip.RecordRouteHeader:
			u = r.Address
		default:
			continue
		}
		ip, ok := uriAddr(u)
		if !ok || !p.own[netip.AddrPortFrom(ip, uint16(routePort(u)))] {
			continue
		}
		if v, ok := u.UriParams.Get(routeParam); ok && v != "" {
			return v
		}
	}
	return ""
}
