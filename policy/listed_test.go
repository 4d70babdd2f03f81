package policy

import (
	"context"
	"errors"
	"slices"
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
	ftc, _, _ := reg.ListDate("ftc")
	internal, _, _ := reg.ListDate("internal")
	if ftc == 0 || internal == 0 || ftc == internal {
		t.Fatalf("versions ftc %d, internal %d; want two", ftc, internal)
	}
	cases := []struct {
		number   string
		holds    bool
		value    string
		versions []uint64 // cited: the lists consulted, but the one never imported
	}{
		{"+12025550101", true, "ftc", []uint64{ftc}}, // on both: the first list written is reported
		{"+12025550102", true, "ftc", []uint64{ftc}},
		{"+12025550103", false, "", []uint64{ftc, internal}}, // on none: every list's version proves it
	}
	for _, tc := range cases {
		c := call(tc.number)
		got, err := l.eval(context.Background(), &facts{Call: c}, reg)
		if err != nil || got.Holds != tc.holds || got.Value != tc.value || !slices.Equal(got.DataVersions(), tc.versions) {
			t.Errorf("%s: %+v %v; want %v %q citing versions %v", tc.number, got, err, tc.holds, tc.value, tc.versions)
		}
	}
	// One list that does not hold the number: its version alone, in version.
	one := &listed{lists: []string{"internal"}}
	if got, _ := one.eval(context.Background(), &facts{Call: call("+12025550103")}, reg); got.Holds || got.Version != internal || got.Versions != nil {
		t.Errorf("one list, not listed: %+v; want version %d", got, internal)
	}
	reg.err = errors.New("read failed")
	c := call("+12025550101")
	if _, err := l.eval(context.Background(), &facts{Call: c}, reg); err == nil {
		t.Error("a registry error was swallowed")
	}
}

// An import that switches the list's version after the lookup answered does
// not change the version the trace cites: the one that gave the answer.
func TestListedCitesTheVersionThatAnswered(t *testing.T) {
	l := &listed{lists: []string{"internal"}}
	for _, tc := range []struct {
		contents []string
		holds    bool
	}{
		{[]string{"2025550143\n", "2025550144\n"}, true},  // listed, then removed
		{[]string{"2025550144\n", "2025550143\n"}, false}, // not listed, then added
	} {
		reg := newSwitchingStore(t, "internal", tc.contents...)
		got, err := l.eval(context.Background(), &facts{Call: call("+12025550143")}, reg)
		if len(reg.versions) != 2 {
			t.Fatalf("imports %v; want one before and one after the lookup", reg.versions)
		}
		if err != nil || got.Holds != tc.holds || !slices.Equal(got.DataVersions(), reg.versions[:1]) {
			t.Errorf("%+v %v; want holds %v citing version %d, which answered, not %d", got, err, tc.holds, reg.versions[0], reg.versions[1])
		}
	}
}
