package policy

import (
	"context"
	"errors"
	"testing"
)

func TestListedParse(t *testing.T) {
	bad := map[string]string{
		"listed: internal": "p.yaml:5:15: listed: want a list, e.g. [internal]",
		"listed: []":       "p.yaml:5:15: listed: want a list, e.g. [internal]",
		`listed: [a, ""]`:  "p.yaml:5:19: listed: empty name",
	}
	for cond, want := range bad {
		src := "lists: {a: a list}\nrules:\n  - name: r\n    match:\n      " + cond + "\n    action: reject\n"
		if _, err := Parse("p.yaml", []byte(src), nil); err == nil || err.Error() != want {
			t.Errorf("%s:\n got  %v\n want %s", cond, err, want)
		}
	}
	if _, err := Parse("p.yaml", []byte("lists: {a: x}\nrules:\n  - name: r\n    match:\n      listed: [a, b]\n    action: reject\n"), nil); err == nil ||
		err.Error() != `p.yaml:5:19: list "b" is not declared under lists: (declared: a)` {
		t.Errorf("undeclared list: %v", err)
	}
	e := mustParse(t, "lists: {internal: a, ftc: b}\nrules:\n  - name: r\n    match:\n      listed:\n        - internal\n        - ftc\n    action: reject\n", nil)
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
		got, err := l.eval(context.Background(), &facts{Call: c}, reg)
		if err != nil || got.Holds != tc.holds || got.Value != tc.value || (got.Version != 0) != tc.holds {
			t.Errorf("%s: %+v %v; want %v %q with the list's version", tc.number, got, err, tc.holds, tc.value)
		}
	}
	reg.err = errors.New("read failed")
	c := call("+12025550101")
	if _, err := l.eval(context.Background(), &facts{Call: c}, reg); err == nil {
		t.Error("a registry error was swallowed")
	}
}
