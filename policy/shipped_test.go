package policy

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gatekeeper-sip/gatekeeper/configs"
	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// TestShippedPolicyCases runs configs/policy_test.yaml, as `gatekeeper policy
// test` does, and checks that the cases decide by every rule of the shipped
// policy and reject a call to every state of its states table.
func TestShippedPolicyCases(t *testing.T) {
	_, results, err := RunTestFile("../configs/policy_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	decidedBy, rejectedIn := map[string]bool{}, map[string]bool{}
	for _, r := range results {
		if r.Failure != "" {
			t.Errorf("%s: %s: %s", r.Place, r.Name, r.Failure)
		}
		// The compact form leaves matched out (a rule matched when all its
		// conditions held): what the log holds reads back as decided.
		var back Trace
		if err := json.Unmarshal(r.Decision.Trace.AppendJSON(nil), &back); err != nil || len(back)+len(r.Decision.Trace) > 0 && !reflect.DeepEqual(back, r.Decision.Trace) {
			t.Errorf("%s: %s: the trace reads back as %+v, %v; decided %+v", r.Place, r.Name, back, err, r.Decision.Trace)
		}
		decidedBy[r.Decision.Rule] = true
		if r.Decision.Action == Reject {
			rejectedIn[r.Decision.Called.State] = true
		}
	}
	text, err := configs.Files.ReadFile("policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f policyFile
	e, err := Parse("policy.yaml", text, newMemoryRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range e.rules {
		if !decidedBy[r.name] {
			t.Errorf("no case is decided by rule %s", r.name)
		}
	}
	if err := yamlx.Decode("policy.yaml", text, &f); err != nil {
		t.Fatal(err)
	}
	for state := range f.states {
		if !rejectedIn[state] {
			t.Errorf("no case rejects a call to %s, which the states table has rules for", state)
		}
	}
	if w := e.Warnings(); len(w) > 0 {
		t.Errorf("the shipped policy has warnings: %v", w)
	}
}
