package policy

import "testing"

func TestState(t *testing.T) {
	for to, want := range map[string]bool{"+13055550143": true, "+14055550143": false, "+18005550143": false} {
		if matched, _ := evalOne(t, "", "      state: [FL, TX]\n", call(to), nil); matched != want {
			t.Errorf("%s: %v; want %v", to, matched, want)
		}
	}
	// Unknown codes (XX, CN: China's country code, not a state) could never match: refused.
	for match, want := range map[string]string{
		"      state: [Florida]\n": `p.yaml:4:15: state: "Florida" ` + notAState,
		"      state: [FL, XX]\n":  `p.yaml:4:19: state: "XX" ` + notAState,
		"      state: [CN]\n":      `p.yaml:4:15: state: "CN" ` + notAState,
	} {
		if got := parseErr("", match); got != want {
			t.Errorf("got %s; want %s", got, want)
		}
	}
	for _, ok := range []string{"DC", "PR", "GU", "VI", "AS", "MP", "WY", "ON"} {
		if got := parseErr("", "      state: ["+ok+"]\n"); got != "" {
			t.Errorf("%s refused: %s", ok, got)
		}
	}
	text := "states:\n  FL: {hours: {daily: \"08:00-20:00\"}}\n  CN: {hours: {daily: \"08:00-20:00\"}}\nrules: []\n"
	if _, err := Parse("p.yaml", []byte(text), nil); err == nil || err.Error() != `p.yaml:3:3: states: "CN" `+notAState {
		t.Errorf("states table with CN: %v", err)
	}
}
