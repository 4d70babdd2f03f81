package policy

import (
	"testing"
	"time"
)

func TestNewCallResolvesSellerDialModeAndNumbers(t *testing.T) {
	at := time.Date(2026, 11, 20, 17, 0, 0, 0, time.UTC)
	base := CallInput{CallID: "c1", Source: "127.0.0.2:5080", Called: "2025550143", Caller: "2025550100",
		Dialer: Dialer{Name: "predictive", Automated: true, Seller: "acme"}, CampaignSellers: map[string]string{"c7": "acme-solar"},
		Region: "US", Time: at}
	cases := []struct {
		name   string
		edit   func(*CallInput)
		seller string
		auto   bool
		prerec bool
	}{
		{"dialer defaults", func(*CallInput) {}, "acme", true, false},
		{"campaign seller", func(in *CallInput) { in.Campaign = " c7 " }, "acme-solar", true, false},
		{"call's own seller first", func(in *CallInput) { in.Campaign, in.Seller = "c7", " globex " }, "globex", true, false},
		{"blank seller header", func(in *CallInput) { in.Seller = "  " }, "acme", true, false},
		{"manual header", func(in *CallInput) { in.DialMode = " Manual" }, "acme", false, false},
		{"automated header on a manual dialer", func(in *CallInput) { in.Dialer.Automated, in.DialMode = false, "AUTOMATED" }, "acme", true, false},
		{"unknown dial mode keeps the dialer's", func(in *CallInput) { in.DialMode = "preview" }, "acme", true, false},
		{"prerecorded", func(in *CallInput) { in.Prerecorded = "Yes" }, "acme", true, true},
		{"not prerecorded", func(in *CallInput) { in.Prerecorded = "false" }, "acme", true, false},
	}
	for _, tc := range cases {
		in := base
		tc.edit(&in)
		c := NewCall(in)
		if c.Seller != tc.seller || c.Automated != tc.auto || c.Prerecorded != tc.prerec {
			t.Errorf("%s: seller %q automated %v prerecorded %v; want %q %v %v", tc.name, c.Seller, c.Automated, c.Prerecorded, tc.seller, tc.auto, tc.prerec)
		}
		if c.CallID != "c1" || c.Source != "127.0.0.2:5080" || c.Dialer != "predictive" || !c.Time.Equal(at) ||
			c.Called != "+12025550143" || c.Caller != "+12025550100" {
			t.Errorf("%s: %+v", tc.name, c)
		}
	}

	in := base
	in.Called, in.RoutingNumber = "+12025550143;npdi;rn=+13015550000", "2125550000"
	if c := NewCall(in); c.RoutingNumber != "+13015550000" {
		t.Errorf("the number's own rn= comes before one given apart: %q", c.RoutingNumber)
	}
	in.Called = "2025550143"
	if c := NewCall(in); c.RoutingNumber != "+12125550000" {
		t.Errorf("routing number given apart: %q", c.RoutingNumber)
	}
	in.Called, in.Caller = "55", "anonymous"
	if c := NewCall(in); c.Called != "" || c.CalledRaw != "55" || c.CalledErr == "" || c.Caller != "anonymous" {
		t.Errorf("unparsable number and withheld caller ID: %+v", c)
	}
}
