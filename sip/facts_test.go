package sip

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
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
