package policy

import "testing"

func TestSeller(t *testing.T) {
	c := call("+12125550143")
	c.Seller = "acme"
	for match, holds := range map[string]bool{
		"      seller: {not_in: [globex]}\n": true,
		"      seller: [globex]\n":           false,
	} {
		if matched, trace := evalOne(t, "", match, c, nil); matched != holds || trace[0].Value != "acme" {
			t.Errorf("%s: %v %+v; want %v", match, matched, trace, holds)
		}
	}
	if got, want := parseErr("", "      seller: {in: [acme]}\n"), "p.yaml:4:16: seller: want a list of names, or not_in: [names]"; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}
