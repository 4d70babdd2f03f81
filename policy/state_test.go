package policy

import "testing"

func TestState(t *testing.T) {
	for to, want := range map[string]bool{"+13055550143": true, "+14055550143": false, "+18005550143": false} {
		if matched, _ := evalOne(t, "", "      state: [FL, TX]\n", call(to), nil); matched != want {
			t.Errorf("%s: %v; want %v", to, matched, want)
		}
	}
	if got, want := parseErr("", "      state: [Florida]\n"), `p.yaml:4:15: state: "Florida" is not a two-letter postal code such as FL`; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}
