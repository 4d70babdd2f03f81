package sip

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/policy"
)

var noon = time.Date(2026, 11, 20, 17, 0, 0, 0, time.UTC)

func TestCallFactsFromInvite(t *testing.T) {
	p := &Proxy{cfg: Config{CampaignHeader: "X-Campaign-ID", DialModeHeader: "X-Dial-Mode", SellerHeader: "X-Seller",
		PrerecordedHeader: "X-Prerecorded", DefaultRegion: "US", CampaignSellers: map[string]string{"c7": "acme-solar"},
		Now: func() time.Time { return noon }}}
	d := &Dialer{Name: "predictive", Sources: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Automated: true, Seller: "acme"}
	cases := []struct {
		ruri, extra        string
		called, rn, caller string
		campaign           string
		automated          bool
	}{
		{"sip:2025550143@127.0.0.1", "", "+12025550143", "", "+12025550100", "", true},
		{"sip:12025550143@127.0.0.1;user=phone", "X-Campaign-ID: c7\r\n", "+12025550143", "", "+12025550100", "c7", true},
		{"sip:+1-202-555-0143@127.0.0.1", "X-Dial-Mode: manual\r\n", "+12025550143", "", "+12025550100", "", false},
		{"sips:+12025550143@127.0.0.1", "", "+12025550143", "", "+12025550100", "", true},
		{"tel:+12025550143;npdi;rn=+12025550000", "", "+12025550143", "+12025550000", "+12025550100", "", true},
		{"sip:+12025550143;npdi;rn=+13015550000@127.0.0.1;user=phone", "", "+12025550143", "+13015550000", "+12025550100", "", true},
		{"sip:2025550143@127.0.0.1;npdi;rn=2125550000", "", "+12025550143", "+12125550000", "+12025550100", "", true},
		{"sip:2025550143@127.0.0.1", "P-Asserted-Identity: \"Acme\" <sip:+13125550111@127.0.0.1>\r\n", "+12025550143", "", "+13125550111", "", true},
		{"sip:555@127.0.0.1", "", "", "", "+12025550100", "", true},
	}
	for _, c := range cases {
		req := mustParse(t, fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5080;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nFrom: <sip:2025550100@127.0.0.2>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n%sContent-Length: 0\r\n\r\n", c.ruri, c.extra))
		call := p.callFacts(req, d)
		if call.Called != c.called || call.RoutingNumber != c.rn || call.Caller != c.caller || call.Campaign != c.campaign || call.Automated != c.automated {
			t.Errorf("%s %q: got called=%q rn=%q caller=%q campaign=%q automated=%v", c.ruri, c.extra, call.Called, call.RoutingNumber, call.Caller, call.Campaign, call.Automated)
		}
		if c.called == "" && (call.CalledErr == "" || call.CalledRaw != "555") {
			t.Errorf("%s: unparsable number without reason: %+v", c.ruri, call)
		}
		if want := map[string]string{"c7": "acme-solar"}[call.Campaign]; call.Seller != want && !(want == "" && call.Seller == "acme") {
			t.Errorf("%s: seller %q", c.ruri, call.Seller)
		}
		if call.Dialer != "predictive" || call.CallID != "c1" || !call.Time.Equal(noon) {
			t.Errorf("dialer/call id: %+v", call)
		}
	}
}

func TestSellerHeaderAndPrerecordedHeader(t *testing.T) {
	p := &Proxy{cfg: Config{CampaignHeader: "X-Campaign-ID", SellerHeader: "X-Seller", PrerecordedHeader: "X-Prerecorded", DefaultRegion: "US",
		CampaignSellers: map[string]string{"c7": "acme-solar"}, Now: time.Now}}
	d := &Dialer{Name: "predictive", Seller: "acme"}
	req := mustParse(t, "INVITE sip:2025550143@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5080;branch=z9hG4bK1\r\nFrom: <sip:2025550100@127.0.0.2>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nX-Campaign-ID: c7\r\nX-Seller: globex\r\nX-Prerecorded: yes\r\nContent-Length: 0\r\n\r\n")
	if call := p.callFacts(req, d); call.Seller != "globex" || !call.Prerecorded {
		t.Fatalf("seller %q prerecorded %v", call.Seller, call.Prerecorded)
	}
}

// TestCalledNumberForms reads every form a dialer may send for the called
// number (RFC 3966 tel: URIs, RFC 3261 §19.1.6 telephone user parts with
// §19.1.2 escapes) to its E.164 number, or to an error: 484 for the call.
func TestCalledNumberForms(t *testing.T) {
	cases := []struct{ ruri, called, rn string }{
		// Global numbers, visual separators (RFC 3966 §5.1.1), parameters that leave the number alone.
		{"tel:+12025550143", "+12025550143", ""},
		{"tel:+1-202-555-0143", "+12025550143", ""},
		{"tel:+1.202.555.0143", "+12025550143", ""},
		{"tel:+1(202)555-0143", "+12025550143", ""},
		{"tel:+1-202-555-0143;ext=22", "+12025550143", ""},
		{"tel:+1-202-555-0143;EXT=22", "+12025550143", ""},
		{"tel:+1-202-555-0143;isub=%41b", "+12025550143", ""},
		{"tel:+1-202-555-0143;postd=pp22", "+12025550143", ""},
		{"tel:+1-202-555-0143;npdi;rn=+1-301-555-0000", "+12025550143", "+13015550000"},
		{"tel:+1-202-555-0143;npdi;rn=555-0000;rn-context=+1-301", "+12025550143", "+13015550000"},
		{"tel:+44-20-7946-0958", "+442079460958", ""},
		// Local numbers: a global phone-context is prefixed (§5.1.5), a domain leaves the region's reading.
		{"tel:555-0199;phone-context=+1-202", "+12025550199", ""},
		{"tel:555-0199;Phone-Context=+1-202", "+12025550199", ""},
		{"tel:5550199;phone-context=+1-202;ext=7", "+12025550199", ""},
		{"tel:(202)555-0199;phone-context=+1", "+12025550199", ""},
		{"tel:7946-0958;phone-context=+44-20", "+442079460958", ""},
		{"tel:202-555-0199;phone-context=example.com", "+12025550199", ""},
		{"tel:202-555-0199;phone-context=pbx.example.com.", "+12025550199", ""},
		{"tel:2025550199", "+12025550199", ""},
		{"tel:555-0199", "", ""},                            // a local number needs its context
		{"tel:7042;phone-context=example.com", "", ""},      // a private extension has no E.164 form
		{"tel:12025550199;phone-context=+1", "", ""},        // +1 then 11 digits
		{"tel:555-0199;phone-context=+", "", ""},            // a context without digits
		{"tel:555-0199;phone-context=202", "", ""},          // neither +digits nor a domain name
		{"tel:555-0199;phone-context=-example.com", "", ""}, // not a domain name
		{"tel:*67-555-0199;phone-context=+1-202", "", ""},   // a service code is not a number
		{"tel:+1-202-555-0143;=x", "", ""},                  // a parameter without a name
		{"sip:555-0199;phone-context=+1-202@127.0.0.1;user=phone", "+12025550199", ""},
		{"sips:555-0199;phone-context=+1-202@127.0.0.1;user=phone", "+12025550199", ""},
		{"sip:+1-202-555-0143;ext=22@127.0.0.1;user=phone", "+12025550143", ""},
		{"sip:2025550143;postd=pp1@127.0.0.1;user=phone", "+12025550143", ""},
		{"sip:1-202-555-0143@127.0.0.1", "+12025550143", ""},
		// Escapes (RFC 3261 §19.1.2) are decoded after the parameters are split.
		{"sip:%2B1-202-555-0143@127.0.0.1;user=phone", "+12025550143", ""},
		{"sip:%2b12025550143@127.0.0.1", "+12025550143", ""},
		{"sip:202%2D555%2D0143@127.0.0.1", "+12025550143", ""},
		{"sip:555-0199;phone-context=%2B1-202@127.0.0.1;user=phone", "+12025550199", ""},
		{"sip:%2B12025550143;npdi;rn=%2B13015550000@127.0.0.1;user=phone", "+12025550143", "+13015550000"},
		{"sip:2025550143%3Bext=1@127.0.0.1", "", ""}, // an escaped ";" is part of the number
		{"sip:2025550143%2@127.0.0.1", "", ""},       // a malformed escape
	}
	for _, c := range cases {
		call := inviteFacts(t, c.ruri, "<sip:2025550100@127.0.0.2>", "")
		if call.Called != c.called || call.RoutingNumber != c.rn || (call.Called == "") != (call.CalledErr != "") {
			t.Errorf("%s: called %q rn %q error %q; want %q rn %q", c.ruri, call.Called, call.RoutingNumber, call.CalledErr, c.called, c.rn)
		}
	}
}

// TestCallerIDForms reads the caller ID with the reader of the called number.
func TestCallerIDForms(t *testing.T) {
	cases := []struct{ from, pai, caller string }{
		{"<sip:555-0100;phone-context=+1-202@127.0.0.2;user=phone>", "", "+12025550100"},
		{"<tel:+1-202-555-0100>", "", "+12025550100"},
		{"<sip:%2B1-202-555-0100@127.0.0.2;user=phone>", "", "+12025550100"},
		{"<sip:2025550100@127.0.0.2>", "<tel:555-0111;phone-context=+1-312>", "+13125550111"},
		{"\"Anonymous\" <sip:anonymous@anonymous.invalid>", "", "anonymous"},
		{"<sip:555-0100;phone-context=example.com@127.0.0.2>", "", "555-0100"}, // not a number: as sent
	}
	for _, c := range cases {
		pai := ""
		if c.pai != "" {
			pai = "P-Asserted-Identity: " + c.pai + "\r\n"
		}
		if call := inviteFacts(t, "sip:2025550143@127.0.0.1", c.from, pai); call.Caller != c.caller {
			t.Errorf("From %s, P-Asserted-Identity %s: caller %q; want %q", c.from, c.pai, call.Caller, c.caller)
		}
	}
}

// inviteFacts is what an automated dialer's INVITE to ruri, from from, with
// the extra header lines, tells the policy.
func inviteFacts(t *testing.T, ruri, from, extra string) policy.Call {
	t.Helper()
	p := &Proxy{cfg: Config{DefaultRegion: "US", Now: func() time.Time { return noon }}}
	req := mustParse(t, fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5080;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n"+
		"From: %s;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n%sContent-Length: 0\r\n\r\n", ruri, from, extra))
	return p.callFacts(req, &Dialer{Name: "predictive", Automated: true})
}
