package policy

import (
	"strings"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
)

// CallInput is what the facts of a call are read from: the strings a dialer
// sent, as the proxy finds them in an INVITE (and `gatekeeper check` in its
// flags, a policy test in its case), with the configuration that completes
// them. Every field is plain text: NewCall does all the reading, so that the
// proxy, check and policy tests cannot decide one call differently.
type CallInput struct {
	CallID string
	Source string // ip:port the request came from
	// Called is the called number as the Request-URI carries it, parameters
	// and escapes included: the user part of a sip: or sips: URI or the body
	// of a tel: URI, e.g. "+1-202-555-0143;npdi;rn=+12025550000" or
	// "555-0199;phone-context=+1-202" (read by number.ParseSubscriber).
	Called string
	// RoutingNumber is an LRN given apart from Called (a Request-URI
	// parameter, `check --rn`); an rn= parameter of Called comes first.
	RoutingNumber string
	// Caller is the caller ID as sent, read as Called is: the user part of
	// P-Asserted-Identity, else of From.
	Caller   string
	Campaign string
	// Seller, DialMode and Prerecorded are the call's own header values, ""
	// when absent. DialMode "automated" or "manual" (any case) overrides the
	// dialer's mode; Prerecorded "yes", "true" or "1" marks a prerecorded call.
	Seller      string
	DialMode    string
	Prerecorded string
	// Dialer is the configured dialer the call came from.
	Dialer Dialer
	// CampaignSellers maps a campaign id to the seller configured for it.
	CampaignSellers map[string]string
	// Region (ISO 3166, e.g. "US") decides numbers without a country code.
	Region string
	Time   time.Time
}

// Dialer is a configured dialer as its calls' facts see it.
type Dialer struct {
	Name string
	// Automated is the dial mode of its calls unless a call says otherwise.
	Automated bool
	// Seller is on whose behalf it calls unless the call or its campaign says otherwise.
	Seller string
}

// NewCall reads the facts of a call from what the dialer sent: the called
// number and the routing number in E.164 (CalledErr says why the called
// number did not parse), the caller ID in E.164 when it parses (else its
// number as sent), the seller (the call's own, else its campaign's, else its
// dialer's) and the dial mode (the call's own, else its dialer's).
func NewCall(in CallInput) Call {
	c := Call{
		CallID:    in.CallID,
		Source:    in.Source,
		Dialer:    in.Dialer.Name,
		Automated: in.Dialer.Automated,
		Campaign:  strings.TrimSpace(in.Campaign),
		Time:      in.Time,
	}
	c.CalledRaw = in.Called
	called, err := number.ParseSubscriber(in.Called)
	if err == nil {
		c.Called, err = called.E164(in.Region)
	}
	if err != nil {
		c.Called, c.CalledErr = "", err.Error()
	}
	c.RoutingNumber = routingNumber(called, in)
	if c.Caller, err = subscriberE164(in.Caller, in.Region); err != nil {
		c.Caller, _, _ = strings.Cut(in.Caller, ";")
	}
	c.Seller = strings.TrimSpace(in.Seller)
	if c.Seller == "" {
		c.Seller = in.CampaignSellers[c.Campaign]
	}
	if c.Seller == "" {
		c.Seller = in.Dialer.Seller
	}
	switch strings.ToLower(strings.TrimSpace(in.Prerecorded)) {
	case "yes", "true", "1":
		c.Prerecorded = true
	}
	switch strings.ToLower(strings.TrimSpace(in.DialMode)) {
	case "automated":
		c.Automated = true
	case "manual":
		c.Automated = false
	}
	return c
}

// routingNumber is the LRN of the call in E.164: the called number's own
// rn= parameter, else the one given apart; "" when neither parses.
func routingNumber(called number.Subscriber, in CallInput) string {
	rn, err := called.RoutingNumber(in.Region)
	if err == nil && rn == "" && in.RoutingNumber != "" {
		rn, err = subscriberE164(in.RoutingNumber, in.Region)
	}
	if err != nil {
		return ""
	}
	return rn
}

// subscriberE164 reads a telephone-subscriber (see number.ParseSubscriber) as E.164.
func subscriberE164(s, region string) (string, error) {
	sub, err := number.ParseSubscriber(s)
	if err != nil {
		return "", err
	}
	return sub.E164(region)
}
