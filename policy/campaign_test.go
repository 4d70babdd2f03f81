package policy

import "testing"

func TestCampaign(t *testing.T) {
	c := call("+12125550143")
	c.Campaign = "spring"
	checkSet(t, c, map[string]bool{
		"      campaign: [spring, fall]\n":     true,
		"      campaign: {not_in: [spring]}\n": false,
	}, "spring")
	c.Campaign = ""
	if matched, trace := evalOne(t, "", "      campaign: {not_in: [spring]}\n", c, nil); !matched || trace[0].Value != "" {
		t.Errorf("no campaign is in no set: %v %+v", matched, trace)
	}
}
