package sip

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// callFacts reads from a new INVITE the plain facts the policy decides on.
func (p *Proxy) callFacts(req *sip.Request, d *Dialer) policy.Call {
	c := policy.Call{
		CallID:    req.CallID().Value(),
		Source:    req.Source(),
		Dialer:    d.Name,
		Automated: d.Automated,
		Time:      p.cfg.Now(),
	}
	user, params := calledUser(&req.Recipient)
	c.CalledRaw = user
	if e164, err := number.Normalize(user, p.cfg.DefaultRegion); err == nil {
		c.Called = e164
	} else {
		c.CalledErr = err.Error()
	}
	if rn := params["rn"]; rn != "" {
		if e164, err := number.Normalize(rn, p.cfg.DefaultRegion); err == nil {
			c.RoutingNumber = e164
		}
	}
	c.Caller = p.callerID(req)
	if h := req.GetHeader(p.cfg.CampaignHeader); h != nil {
		c.Campaign = strings.TrimSpace(h.Value())
	}
	c.Seller = p.seller(req, c.Campaign, d)
	if h := req.GetHeader(p.cfg.PrerecordedHeader); h != nil {
		switch strings.ToLower(strings.TrimSpace(h.Value())) {
		case "yes", "true", "1":
			c.Prerecorded = true
		}
	}
	if h := req.GetHeader(p.cfg.DialModeHeader); h != nil {
		switch strings.ToLower(strings.TrimSpace(h.Value())) {
		case "automated":
			c.Automated = true
		case "manual":
			c.Automated = false
		}
	}
	return c
}

// seller names on whose behalf the call is made: the call's own header,
// else its campaign's configured seller, else its dialer's.
func (p *Proxy) seller(req *sip.Request, campaign string, d *Dialer) string {
	if h := req.GetHeader(p.cfg.SellerHeader); h != nil {
		if s := strings.TrimSpace(h.Value()); s != "" {
			return s
		}
	}
	if s := p.cfg.CampaignSellers[campaign]; s != "" {
		return s
	}
	return d.Seller
}

// calledUser returns the dialed number of a Request-URI and its telephone
// parameters (npdi, rn), which may sit in the user part (RFC 4694 style,
// sip:+12025550143;npdi;rn=+12025550000@host) or among the URI parameters.
func calledUser(u *sip.Uri) (string, map[string]string) {
	user := u.User
	if u.Scheme == "tel" {
		user = u.Raw()
	}
	params := map[string]string{}
	num, rest, _ := strings.Cut(user, ";")
	for _, kv := range strings.Split(rest, ";") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		params[strings.ToLower(k)] = v
	}
	if u.Scheme != "tel" {
		if rn, ok := u.UriParams.Get("rn"); ok && params["rn"] == "" {
			params["rn"] = rn
		}
	}
	return num, params
}

// callerID is the number the call presents: P-Asserted-Identity, else From;
// E.164 when it parses, else as sent.
func (p *Proxy) callerID(req *sip.Request) string {
	var u *sip.Uri
	if h := req.GetHeader("P-Asserted-Identity"); h != nil {
		var parsed sip.Uri
		var params sip.HeaderParams
		if _, err := sip.ParseAddressValue(h.Value(), &parsed, &params); err == nil {
			u = &parsed
		}
	}
	if u == nil {
		u = &req.From().Address
	}
	user, _ := calledUser(u)
	if e164, err := number.Normalize(user, p.cfg.DefaultRegion); err == nil {
		return e164
	}
	return user
}
