package policy

import (
	"context"
	"testing"
	"time"
)

// evalOne parses a one-rule policy with the given match and returns the
// trace of its conditions for the call.
func evalOne(t *testing.T, preamble, match string, c Call, reg Registry) (bool, []ConditionTrace) {
	t.Helper()
	if reg == nil {
		reg = newMemRegistry(nil)
	}
	e := mustParse(t, preamble+"rules:\n  - name: r\n    match:\n"+match+"    action: reject\n", reg)
	d := e.Decide(context.Background(), c)
	return d.Rule == "r", d.Trace[0].Conditions
}

// parseErr returns the error of a one-rule policy with the given match.
func parseErr(preamble, match string) string {
	_, err := Parse("p.yaml", []byte(preamble+"rules:\n  - name: r\n    match:\n"+match+"    action: reject\n"), nil)
	if err == nil {
		return ""
	}
	return err.Error()
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
