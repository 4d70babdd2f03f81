package policy

import (
	"context"
	"errors"
	"testing"
)

func TestListedParse(t *testing.T) {
	bad := map[string]string{
		"listed: internal": "p.yaml:4:15: listed: want list names, e.g. [internal]",
		"listed: []":       "p.yaml:4:15: listed: want list names, e.g. [internal]",
		`listed: [a, ""]`:  "p.yaml:4:19: listed: empty list name",
	}
	for cond, want := range bad {
		src := "rules:\n  - name: r\n    match:\n      " + cond + "\n    action: reject\n"
		if _, err := Parse("p.yaml", []byte(src), nil); err == nil || err.Error() != want {
			t.Errorf("%s:\n got  %v\n want %s", cond, err, want)
		}
	}
	e := mustParse(t, "rules:\n  - name: r\n    match:\n      listed:\n        - internal\n        - ftc\n    action: reject\n", nil)
	if l := e.rules[0].match[0].condition.(*listed); len(l.lists) != 2 || l.lists[0] != "internal" || l.lists[1] != "ftc" {
		t.Errorf("lists %v; want [internal ftc] in the order written", l.lists)
	}
}

func TestListedEval(t *testing.T) {
	reg := newMemRegistry(map[string][]string{"internal": {"+12025550101"}, "ftc": {"+12025550101", "+12025550102"}})
	l := &listed{lists: []string{"never-imported", "ftc", "internal"}}
	cases := []struct {
		number string
		holds  bool
		value  string
	}{
		{"+12025550101", true, "ftc"}, // on both: the first list written is reported
		{"+12025550102", true, "ftc"},
		{"+12025550103", false, ""},
	}
	for _, tc := range cases {
		c := call(tc.number)
		holds, value, err := l.eval(context.Background(), c, reg)
		if err != nil || holds != tc.holds || value != tc.value {
			t.Errorf("%s: %v %q %v; want %v %q", tc.number, holds, value, err, tc.holds, tc.value)
		}
	}
	reg.err = errors.New("read failed")
	c := call("+12025550101")
	if _, _, err := l.eval(context.Background(), c, reg); err == nil {
		t.Error("a registry error was swallowed")
	}
}
