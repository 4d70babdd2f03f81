package policy

import "testing"

func TestDialer(t *testing.T) {
	c := call("+12125550143")
	checkSet(t, c, map[string]bool{
		"      dialer: [predictive]\n":           true,
		"      dialer: {not_in: [predictive]}\n": false,
	}, "predictive")
}
