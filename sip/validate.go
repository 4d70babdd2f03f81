package sip

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// rejection is the answer to a request that fails validation.
type rejection struct {
	status int
	reason string
	hdrs   []sip.Header
}

// valid answers a request that fails validation and reports whether it passed.
func (p *Proxy) valid(req *sip.Request, tx sip.ServerTransaction) bool {
	rej := validate(req)
	if rej == nil {
		return true
	}
	p.invalid.Add(1)
	reply(tx, req, rej.status, rej.reason, rej.hdrs...)
	return false
}

// validate checks a request as RFC 3261 §16.3 asks of a proxy before it
// forwards anything; sipgo's parser accepts many of RFC 4475's invalid
// messages, so these checks are ours. It returns nil for a valid request.
func validate(req *sip.Request) *rejection {
	if req.SipVersion != "SIP/2.0" {
		return &rejection{505, "Version Not Supported", nil}
	}
	if req.To() == nil || req.From() == nil || req.CallID() == nil || req.CSeq() == nil || req.Via() == nil {
		return &rejection{400, "Missing Mandatory Header", nil}
	}
	for _, name := range []string{"To", "From", "Call-ID", "CSeq", "Max-Forwards", "Content-Length"} {
		if len(req.GetHeaders(name)) > 1 {
			return &rejection{400, "Duplicate " + name, nil}
		}
	}
	// sipgo upper-cases the request method but not the CSeq's.
	if !strings.EqualFold(string(req.CSeq().MethodName), string(req.Method)) {
		return &rejection{400, "CSeq Method Mismatch", nil}
	}
	if cl := req.ContentLength(); cl != nil && int(*cl) != len(req.Body()) {
		return &rejection{400, "Bad Content-Length", nil}
	}
	switch strings.ToLower(req.Recipient.Scheme) {
	case "sip", "sips", "tel":
	default:
		return &rejection{416, "Unsupported URI Scheme", nil}
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 && req.Method != sip.ACK {
		return &rejection{483, "Too Many Hops", nil}
	}
	if pr := req.GetHeaders("Proxy-Require"); len(pr) > 0 && req.Method != sip.ACK && req.Method != sip.CANCEL {
		var tags []string
		for _, h := range pr {
			tags = append(tags, h.Value())
		}
		return &rejection{420, "Bad Extension", []sip.Header{sip.NewHeader("Unsupported", strings.Join(tags, ", "))}}
	}
	return nil
}
