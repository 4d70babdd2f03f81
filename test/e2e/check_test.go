package e2e

import (
	"encoding/json"
	"reflect"
	"testing"
)

// callAndCheck is one call placed through the proxy and the check flags that
// ask the same question.
type callAndCheck struct {
	scenario, called string
	e164             string // the called number after +1
	rule             string // the rule that decides it
	sippArgs         []string
	checkArgs        []string
}

// TestProxyAndCheckDecideAlike places calls through the proxy, then asks
// `gatekeeper check --json` about the same facts at the same time: the
// decision, the trace and the called party's place must be the same, since
// both build the call's facts with policy.NewCall.
func TestProxyAndCheckDecideAlike(t *testing.T) {
	g := shippedGatekeeper(t, fridayNoon, listedNumber)
	calls := []callAndCheck{
		{"uac.xml", newYorkNumber, newYorkNumber, "default", []string{"-set", "campaign", "spring-sale"}, []string{"--campaign", "spring-sale"}},
		{"uac_reject.xml", listedNumber, listedNumber, "national-dnc", []string{"-set", "expect", "603"}, []string{"--campaign", "bench"}},
		{"uac_manual.xml", mobileNumber, mobileNumber, "default", nil, []string{"--campaign", "bench", "--manual"}},
		{"uac_reject.xml", mobileNumber, mobileNumber, "mobile-automated-consent", []string{"-set", "expect", "403"}, []string{"--campaign", "bench"}},
		// A local number in a global phone-context (RFC 3966 §5.1.5) is the listed +12025550199.
		{"uac_reject.xml", "555-0199;phone-context=+1-202", listedNumber, "national-dnc", []string{"-set", "expect", "603"}, []string{"--campaign", "bench"}},
		{"uac_reject.xml", cleanNumber, cleanNumber, "caller-id", []string{"-set", "caller", "anonymous", "-set", "expect", "403"}, []string{"--campaign", "bench", "--from", "anonymous"}},
	}
	carrier := g.carrier("uas.xml", 2)
	for _, c := range calls {
		g.dial(dialerIP, c.scenario, c.called, c.sippArgs...).mustPass()
	}
	carrier.mustPass()
	recs := g.auditRecords()
	if len(recs) != len(calls) {
		t.Fatalf("want %d audit records, got %d: %v", len(calls), len(recs), recs)
	}
	for i, c := range calls {
		rec := recs[i]
		if rec["rule"] != c.rule {
			t.Errorf("%s: the proxy decided by %v; want %s", c.called, rec["rule"], c.rule)
		}
		if rec["called"] != "+1"+c.e164 {
			t.Errorf("%s: the proxy read the called number as %v; want +1%s", c.called, rec["called"], c.e164)
		}
		args := append([]string{"check", "--json", "--to", c.called, "--at", rec["time"].(string)}, c.checkArgs...)
		out, _ := g.run(args...) // exit 1 for a reject
		var check map[string]any
		if err := json.Unmarshal([]byte(out), &check); err != nil {
			t.Fatalf("%v: %q is not JSON: %v", args, out, err)
		}
		if check["decision"] != rec["decision"] || check["rule"] != rec["rule"] || check["error"] != rec["error"] ||
			check["policy_sha256"] != rec["policy_sha256"] ||
			check["decision"] == "reject" && check["status"] != rec["status"] {
			t.Errorf("%s: proxy %v %v %v, check %v %v %v", c.called, rec["decision"], rec["rule"], rec["status"],
				check["decision"], check["rule"], check["status"])
		}
		if !reflect.DeepEqual(check["trace"], rec["trace"]) || !reflect.DeepEqual(check["called"], rec["called_place"]) {
			t.Errorf("%s: traces differ\nproxy: %v %v\ncheck: %v %v", c.called, rec["called_place"], rec["trace"], check["called"], check["trace"])
		}
	}
	g.stop()
}
