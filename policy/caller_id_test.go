package policy

import "testing"

func TestCallerID(t *testing.T) {
	for caller, class := range map[string]string{"": "missing", "Anonymous": "anonymous", "restricted": "anonymous",
		"12345": "invalid", "+12025550100": "valid", "+442079460000": "valid"} {
		c := call("+12125550143")
		c.Caller = caller
		matched, trace := evalOne(t, "", "      caller_id: [missing, anonymous, invalid]\n", c, nil)
		if trace[0].Value != class || matched != (class != "valid") {
			t.Errorf("%q: %v %+v; want class %s", caller, matched, trace, class)
		}
	}
	if got, want := parseErr("", "      caller_id: [blocked]\n"), `p.yaml:4:19: caller_id: "blocked" is not missing, anonymous or invalid`; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}
