package policy

import "testing"

func TestParseErrorsNamePlace(t *testing.T) {
	cases := []struct{ src, want string }{
		{"mode: enforce\nrules: []\nextra: 1\n", `p.yaml:3:1: unknown field "extra" (known: mode, on_error, lists, holidays, states, rules)`},
		{"mode: strict\nrules: []\n", `p.yaml:1:7: mode "strict" is not enforce or monitor`},
		{"mode: enforce\n", "p.yaml: the file has no rules: key; write rules: [] to allow every call"},
		{"rules: internal\n", "p.yaml:1:8: rules: want a list of rules"},
		{"rules:\n  - reject\n", "p.yaml:2:5: a rule is a mapping with name, match and action"},
		{"rules:\n  - name: a\n    action: reject\n    bogus: 1\n", `p.yaml:4:5: unknown field "bogus"`},
		{"rules:\n  - match:\n      listed: [x]\n    action: reject\n", "p.yaml:2:5: rule has no name"},
		{"rules:\n  - name: \"\"\n    action: reject\n", "p.yaml:2:11: rule has no name"},
		{"rules:\n  - name: dnc list\n    action: reject\n", `p.yaml:2:11: rule name "dnc list": use only letters, digits, '.', '_' and '-'`},
		{"rules:\n  - name: default\n    action: allow\n", `p.yaml:2:11: rule name "default" is reserved for decisions no rule made`},
		{"rules:\n  - name: a\n    action: reject\n  - name: b\n    action: allow\n  - name: a\n    action: allow\n",
			`p.yaml:6:11: rule name "a" is already used at line 2`},
		{"rules:\n  - name: a\n    match:\n      listd: [x]\n    action: reject\n", `p.yaml:4:7: unknown condition "listd" (known: abandonment_rate, attempts, caller_id, campaign, consent, dial_mode, dialer, exempt, holiday, line_type, listed, outside_hours, prerecorded, seller, stale, state)`},
		{"rules:\n  - name: a\n    match: {}\n    action: reject\n", `p.yaml:3:12: rule "a": match has no conditions; leave match out for a rule that takes every call`},
		{"rules:\n  - name: a\n    match:\n    action: allow\n", `p.yaml:3:11: rule "a": match has no conditions; leave match out for a rule that takes every call`},
		{"rules:\n  - name: a\n    action: reject\n    status: 6.03\n", "p.yaml:4:13: status 6.03 is not a SIP error answer (400-699)"},
		{"rules:\n  - name: a\n    match: [listed]\n    action: reject\n", "p.yaml:3:12: match: want conditions, one per line, e.g. listed: [internal]"},
		{"rules:\n  - name: a\n    match:\n      listed: [x]\n", `p.yaml:4:16: list "x" is not declared under lists: (declared: )`},
		{"lists: {x: a list}\nrules:\n  - name: a\n    match:\n      listed: [x]\n", `p.yaml:3:5: rule "a": action is missing (reject or allow)`},
		{"lists: {x y: a list}\nrules: []\n", `p.yaml:1:9: list name "x y": use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`},
		{"rules:\n  - name: a\n    action: allow\n    monitor: true\n", `p.yaml:4:14: rule "a": monitor applies only to action reject`},
		{"rules:\n  - name: a\n    action: reject\n    retry_after: -1\n", `p.yaml:4:18: rule "a": retry_after is seconds, 0 or more`},
		{"on_error: {automated: drop}\nrules: []\n", `p.yaml:1:23: on_error: automated: "drop" is not reject or allow`},
		{"on_error: {manual: allow, retry_after: -5}\nrules: []\n", `p.yaml:1:40: on_error: retry_after is seconds, 0 or more`},
		{"rules:\n  - name: a\n    action: block\n", `p.yaml:3:13: rule "a": action "block" is not reject or allow`},
		{"rules:\n  - name: a\n    action: reject\n    status: 200\n", "p.yaml:4:13: status 200 is not a SIP error answer (400-699)"},
		{"rules:\n  - name: a\n    action: reject\n    status: busy\n", "p.yaml:4:13: status busy is not a number such as 603"},
		{"rules:\n  - name: a\n    action: reject\n    status: 499\n", `p.yaml:4:13: rule "a": status 499 has no standard reason phrase; give one with reason:`},
		{"rules:\n  - name: a\n    action: reject\n    reason: \"Dec\\r\\nX-Evil: 1\"\n", `p.yaml:4:13: rule "a": reason "Dec\r\nX-Evil: 1" has control characters`},
		{"rules:\n  - name: a\n    action: allow\n    status: 603\n", `p.yaml:4:13: rule "a": status, reason and retry_after apply only to action reject`},
		{"rules:\n  - name: a\n    action: reject\n    action: allow\n", `p.yaml:4:5: mapping key "action" already defined at [3:5]`},
	}
	for _, tc := range cases {
		_, err := Parse("p.yaml", []byte(tc.src), newMemRegistry(nil))
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q)\n got  %v\n want %s", tc.src, err, tc.want)
		}
	}
}

func TestParseFillsDefaults(t *testing.T) {
	src := "lists: {internal: opt-outs, vip: callbacks, odd: odd numbers}\nrules:\n" +
		"  - name: dnc\n    match:\n      listed: [internal]\n    action: reject\n" +
		"  - name: busy\n    match:\n      listed: [vip]\n    action: reject\n    status: 486\n" +
		"  - name: odd\n    match:\n      listed: [odd]\n    action: reject\n    status: 499\n    reason: Not Now\n" +
		"  - name: everyone-else\n    action: allow\n"
	e, err := Parse("p.yaml", []byte(src), newMemRegistry(nil))
	if err != nil {
		t.Fatal(err)
	}
	if e.Mode() != "enforce" {
		t.Errorf("mode %q; want enforce when the file does not say", e.Mode())
	}
	want := []struct {
		name   string
		action Action
		status int
		reason string
		conds  int
	}{
		{"dnc", Reject, 603, "Decline", 1},
		{"busy", Reject, 486, "Busy Here", 1},
		{"odd", Reject, 499, "Not Now", 1},
		{"everyone-else", Allow, 0, "", 0},
	}
	if len(e.rules) != len(want) {
		t.Fatalf("%d rules; want %d", len(e.rules), len(want))
	}
	for i, w := range want {
		r := e.rules[i]
		if r.name != w.name || r.action != w.action || r.status != w.status || r.reason != w.reason || len(r.match) != w.conds {
			t.Errorf("rule %d = %s %s %d %q (%d conditions); want %+v", i, r.name, r.action, r.status, r.reason, len(r.match), w)
		}
	}
	if e.conditions != 3 {
		t.Errorf("conditions = %d; want 3", e.conditions)
	}
}

func TestSHA256IsOfTheFileText(t *testing.T) {
	a, err := Parse("a.yaml", []byte("rules: []\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b.yaml", []byte("rules: []  # same rules, other text\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// sha256("rules: []\n"), computed with sha256sum.
	if a.SHA256() != "e0dfa70eb69d47fe9cb2be8a4fcd53e74cf7fe26fcbb1f06912b57a9c028e4e0" {
		t.Errorf("SHA256 = %s", a.SHA256())
	}
	if a.SHA256() == b.SHA256() {
		t.Error("two different files have the same hash")
	}
}
