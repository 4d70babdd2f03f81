package policy

import "testing"

func TestCampaign(t *testing.T) {
	c := call("+12125550143")
	c.Campaign = "spring"
	for match, holds := range map[string]bool{
		"      campaign: [spring, fall]\n":     true,
		"      campaign: {not_in: [spring]}\n": false,
	} {
		if matched, trace := evalOne(t, "", match, c, nil); matched != holds || trace[0].Value != "spring" {
			t.Errorf("%s: %v %+v; want %v", match, matched, trace, holds)
		}
	}
	c.Campaign = ""
	if matched, trace := evalOne(t, "", "      campaign: {not_in: [spring]}\n", c, nil); !matched || trace[0].Value != "" {
		t.Errorf("no campaign is in no set: %v %+v", matched, trace)
	}
}
