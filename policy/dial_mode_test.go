package policy

import "testing"

func TestDialMode(t *testing.T) {
	c := call("+12125550143")
	c.Prerecorded = true
	if matched, trace := evalOne(t, "", "      dial_mode: automated\n      prerecorded: true\n", c, nil); !matched ||
		trace[0].Value != "automated" || trace[1].Value != "true" {
		t.Errorf("automated prerecorded: %v %+v", matched, trace)
	}
	c.Automated = false
	if matched, trace := evalOne(t, "", "      dial_mode: automated\n", c, nil); matched || trace[0].Value != "manual" {
		t.Errorf("manual: %v %+v", matched, trace)
	}
	if got, want := parseErr("", "      dial_mode: robot\n"), "p.yaml:4:18: dial_mode: want automated or manual"; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}
