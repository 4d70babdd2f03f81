package audit

import "testing"

func TestNoFormula(t *testing.T) {
	for in, want := range map[string]string{"+12025550143": "+12025550143", "-3": "-3", `=HYPERLINK("x")`: `'=HYPERLINK("x")`,
		"+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0", "@SUM(1)": "'@SUM(1)", "\tx": "'\tx", "spring": "spring", "": ""} {
		if got := noFormula(in); got != want {
			t.Errorf("noFormula(%q) = %q, want %q", in, got, want)
		}
	}
}
