package policy

import "testing"

func TestDialer(t *testing.T) {
	c := call("+12125550143")
	for match, holds := range map[string]bool{
		"      dialer: [predictive]\n":           true,
		"      dialer: {not_in: [predictive]}\n": false,
	} {
		if matched, trace := evalOne(t, "", match, c, nil); matched != holds || trace[0].Value != "predictive" {
			t.Errorf("%s: %v %+v; want %v", match, matched, trace, holds)
		}
	}
}
