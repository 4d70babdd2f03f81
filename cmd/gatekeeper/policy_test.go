package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runPolicy(args ...string) (string, int, error) {
	root := newRootCmd(newPolicyCmd())
	var buf bytes.Buffer
	root.SetOut(&buf)
	root.SetArgs(append([]string{"policy"}, args...))
	err := root.Execute()
	code := 0
	if err != nil {
		code = exitCode(err)
	}
	return buf.String(), code, err
}

func TestPolicyValidate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	out, code, err := runPolicy("validate", "../../configs/policy.yaml")
	if code != 0 || err != nil || !strings.Contains(out, "valid, 0 warnings") {
		t.Errorf("shipped policy: %q exit %d %v", out, code, err)
	}
	shadowed := write("shadowed.yaml", "lists: {internal: x}\nrules:\n  - name: a\n    match:\n      listed: [internal]\n    action: reject\n"+
		"  - name: b\n    match:\n      listed: [internal]\n      dial_mode: manual\n    action: allow\n")
	out, code, _ = runPolicy("validate", shadowed)
	if want := shadowed + `:7:11: warning: rule "b" is unreachable: rule "a" at line 3 matches every call this one matches`; code != 0 || !strings.Contains(out, want) {
		t.Errorf("shadowed rule: %q exit %d; want %s", out, code, want)
	}
	bad := write("bad.yaml", "lists: {internal: x}\nrules:\n  - name: a\n    match:\n      listed: [internl]\n    action: reject\n")
	_, code, err = runPolicy("validate", bad)
	if code != 1 || err == nil || err.Error() != bad+`:5:16: list "internl" is not declared under lists: (declared: internal)` {
		t.Errorf("bad policy: exit %d, %v", code, err)
	}
}

func TestPolicyTest(t *testing.T) {
	out, code, err := runPolicy("test", "../../configs/policy_test.yaml")
	if code != 0 || err != nil || !strings.Contains(out, " 0 failed") {
		t.Errorf("shipped cases: %q exit %d %v", out, code, err)
	}
	dir := t.TempDir()
	policyText, err := os.ReadFile("../../configs/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := "policy: policy.yaml\ndefaults:\n  lists: {ftc: {age: 1d}}\n  line_type: landline\ncases:\n" +
		"  - name: wrong-on-purpose\n    call: {to: \"3055550143\", from: \"2025550100\", at: \"2026-04-08T20:30:00-04:00\"}\n    want: {decision: allow}\n"
	for name, text := range map[string]string{"policy.yaml": string(policyText), "cases.yaml": cases} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, code, _ = runPolicy("test", filepath.Join(dir, "cases.yaml"))
	if code != 1 || !strings.Contains(out, "cases.yaml:6 wrong-on-purpose: got reject 480 by state-hours; want allow") {
		t.Errorf("failing case: %q exit %d", out, code)
	}
}
