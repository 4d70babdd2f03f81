package policy

import "testing"

func TestSeller(t *testing.T) {
	c := call("+12125550143")
	c.Seller = "acme"
	checkSet(t, c, map[string]bool{
		"      seller: {not_in: [globex]}\n": true,
		"      seller: [globex]\n":           false,
	}, "acme")
	if got, want := parseErr("", "      seller: {in: [acme]}\n"), "p.yaml:4:16: seller: want a list of names, or not_in: [names]"; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}
