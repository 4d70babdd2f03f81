package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// replayReport holds the fields of `policy replay --json` the test reads.
type replayReport struct {
	Calls, Unchanged, Changed, Approximate int
	PolicyNotArchived                      int `json:"policy_not_archived"`
	Changes                                []struct {
		Old, New struct {
			Rule    string
			Status  int
			Monitor bool
		}
		Calls int
	}
	Samples []struct {
		CallID string `json:"call_id"`
		Called string
	}
}

func (g *gatekeeper) replay(policyFile string) replayReport {
	g.t.Helper()
	out, err := g.run("policy", "replay", "--json", policyFile)
	if err != nil {
		g.t.Fatalf("policy replay %s: %v\n%s", policyFile, err, out)
	}
	var rep replayReport
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, `{"audit_dir"`) {
			if err := json.Unmarshal([]byte(line), &rep); err != nil {
				g.t.Fatal(err)
			}
			return rep
		}
	}
	g.t.Fatalf("policy replay %s printed no report:\n%s", policyFile, out)
	return rep
}

// Calls placed through the gatekeeper under the shipped policy, replayed
// from its log: under the same policy nothing changes; under one that only
// monitors the national list and caps Florida at 2 calls a day, the national
// number's call is forwarded and the third Florida call rejected.
func TestReplayOfServedCallsUnderAChangedPolicy(t *testing.T) {
	g := shippedGatekeeper(t, fridayNoon, listedNumber)
	carrier := g.carrier("uas.xml", 4)
	g.dial(dialerIP, "uac_reject.xml", listedNumber, "-set", "expect", "603").mustPass()
	g.dial(dialerIP, "uac.xml", newYorkNumber).mustPass()
	for range 3 {
		g.dial(dialerIP, "uac.xml", floridaNumber).mustPass()
	}
	g.dial(dialerIP, "uac_reject.xml", floridaNumber, "-set", "expect", "480").mustPass()
	carrier.mustPass()
	g.stop()

	shipped := filepath.Join(g.dir, "policy.yaml")
	if rep := g.replay(shipped); rep.Calls != 6 || rep.Changed != 0 || rep.Approximate != 0 || rep.PolicyNotArchived != 0 {
		t.Errorf("under the policy that decided: %+v; want 6 calls, none changed or approximate", rep)
	}

	text, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	next := strings.Replace(string(text), "  - name: national-dnc\n", "  - name: national-dnc\n    monitor: true\n", 1)
	next = strings.Replace(next, "attempts: {limit: 3, within: 24h}     # 3 calls per 24 h (same subject)", "attempts: {limit: 2, within: 24h}", 1)
	nextFile := filepath.Join(g.dir, "next.yaml")
	writeFile(t, nextFile, next)
	rep := g.replay(nextFile)
	if rep.Calls != 6 || rep.Changed != 2 || rep.Approximate != 0 || len(rep.Changes) != 2 {
		t.Fatalf("under the changed policy: %+v; want 2 of 6 calls changed", rep)
	}
	for _, ch := range rep.Changes {
		switch {
		case ch.Old.Rule == "national-dnc" && ch.New.Rule == "national-dnc" && ch.New.Monitor && ch.Calls == 1:
		case ch.Old.Rule == "default" && ch.New.Rule == "state-frequency" && ch.New.Status == 480 && ch.Calls == 1:
		default:
			t.Errorf("unexpected change %+v", ch)
		}
	}
	if len(rep.Samples) != 2 || rep.Samples[0].Called != "+1"+listedNumber || rep.Samples[1].Called != "+1"+floridaNumber {
		t.Errorf("samples %+v", rep.Samples)
	}
}
