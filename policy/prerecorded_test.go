package policy

import "testing"

func TestPrerecorded(t *testing.T) {
	c := call("+12125550143")
	c.Prerecorded = true
	if matched, trace := evalOne(t, "", "      prerecorded: true\n", c, nil); !matched || trace[0].Value != "true" {
		t.Errorf("prerecorded: true: %v %+v", matched, trace)
	}
	c.Automated = false
	if matched, _ := evalOne(t, "", "      prerecorded: false\n", c, nil); matched {
		t.Error("prerecorded: false held for a prerecorded call")
	}
	if got, want := parseErr("", "      prerecorded: yes!\n"), "p.yaml:4:20: prerecorded: want true or false"; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}
