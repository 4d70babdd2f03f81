package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/go-json-experiment/json/jsontext"
)

// These tests run the shipped configs/policy.yaml with the gatekeeper's clock
// set, so that calling hours hold whatever the time CI runs at. 2026-11-20 is
// a Friday and no holiday.
const (
	floridaNumber = "3055550143" // 305: Miami, Eastern time
	newYorkNumber = "2125550143" // 212: New York, Eastern time
	fridayNoon    = "2026-11-20T12:00:00-05:00"
	fridayEvening = "2026-11-20T20:30:00-05:00"
	freshFTC      = "2026-11-15" // 5 days before the calls
)

// shippedGatekeeper serves the shipped policy at clock, with a fresh national
// list holding the numbers ftc.
func shippedGatekeeper(t *testing.T, clock string, ftc ...string) *gatekeeper {
	g := newGatekeeper(t)
	g.useShippedPolicy()
	g.clock = clock
	g.importListWith("ftc", []string{"--source-date", freshFTC}, append(ftc, "9725550100")...) // never empty: an import needs a number
	g.importLandlineBlocks()                                                                   // consent_test.go
	g.start()
	return g
}

func TestShippedPolicyRejectsNationalDNCAndAllowsClean(t *testing.T) {
	g := shippedGatekeeper(t, fridayNoon, listedNumber)
	carrier := g.carrier("uas.xml", 1)
	g.dial(dialerIP, "uac_reject.xml", listedNumber, "-set", "expect", "603").mustPass()
	g.dial(dialerIP, "uac.xml", cleanNumber).mustPass()
	carrier.mustPass()
	g.stop()
	recs := g.auditRecords()
	if len(recs) != 2 || recs[0]["rule"] != "national-dnc" || recs[1]["decision"] != "allow" {
		t.Fatalf("audit: %v", recs)
	}
	// The record carries the trace and the called party's place, as check shows them.
	trace := g.traceOf(recs[0])
	place, _ := recs[0]["called_place"].(map[string]any)
	if last := trace[len(trace)-1]; last.Rule != "national-dnc" || !last.Matched || last.Conditions[0].Value != "ftc" || last.Conditions[0].Version == 0 || place["state"] != "DC" {
		t.Errorf("audit record lacks its trace or place: trace %+v place %v", trace, place)
	}

	// The allowed call's trace cites the version of the national list that
	// did not hold its number, and its evidence holds that list's import.
	var ftcVersion float64
	for _, c := range g.auditLog("data_change") {
		if c["list"] == "ftc" && c["change"] == "import" {
			ftcVersion = c["version"].(float64)
		}
	}
	allowed := g.traceOf(recs[1])
	cited := false
	for _, r := range allowed {
		if r.Rule == "national-dnc" {
			c := r.Conditions[0]
			cited = c.Kind == "listed" && !c.Holds && float64(c.Version) == ftcVersion && ftcVersion != 0
		}
	}
	if !cited {
		t.Errorf("the allowed call's national-dnc listed condition does not cite the ftc import (version %v): %+v", ftcVersion, allowed)
	}
	bundle := filepath.Join(g.dir, "allowed.json")
	if out, err := g.run("audit", "evidence", "--call-id", recs[1]["call_id"].(string), "-o", bundle); err != nil {
		t.Fatalf("audit evidence: %v %s", err, out)
	}
	data, _ := os.ReadFile(bundle)
	if want := fmt.Sprintf(`"list":"ftc","version":%v,`, ftcVersion); !strings.Contains(string(data), want) {
		t.Errorf("the allowed call's bundle lacks the ftc import (%s):\n%s", want, data)
	}

	// audit's benchmarks and tests take served records as their fixtures
	// (audit/testdata/served.jsonl): these calls' records still have their shape.
	fixtures, err := os.ReadFile(filepath.Join(repoRoot, "audit", "testdata", "served.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(fixtures)), "\n")
	decisions, outcomes := g.auditLines("decision"), g.auditLines("outcome")
	for i, pair := range [][2]string{{string(decisions[1]), want[2]}, {string(outcomes[0]), want[3]}, {string(decisions[0]), want[4]}} {
		if got, want := recordShape(t, pair[0]), recordShape(t, pair[1]); !slices.Equal(got, want) {
			t.Errorf("record %d has the shape\n%v\nthe fixture\n%v", i, got, want)
		}
	}
}

// recordShape is a record's field names in order and, for a decision, its
// trace's rules with each condition's kind and whether it held.
func recordShape(t *testing.T, line string) []string {
	t.Helper()
	var shape []string
	dec := jsontext.NewDecoder(strings.NewReader(line))
	if _, err := dec.ReadToken(); err != nil {
		t.Fatal(err)
	}
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			t.Fatal(err)
		}
		name := tok.String() // the token is void after the next read
		shape = append(shape, name)
		value, err := dec.ReadValue()
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if name != "trace" {
			continue
		}
		var trace policy.Trace
		if err := json.Unmarshal(value, &trace); err != nil {
			t.Fatal(err)
		}
		for _, r := range trace {
			for _, c := range r.Conditions {
				shape = append(shape, fmt.Sprintf("%s: %s %v", r.Rule, c.Kind, c.Holds))
			}
		}
	}
	return shape
}

func TestEveningCallToFloridaIsRejectedAndToNewYorkAllowed(t *testing.T) {
	g := shippedGatekeeper(t, fridayEvening)
	carrier := g.carrier("uas.xml", 1)
	g.dial(dialerIP, "uac_reject.xml", floridaNumber, "-set", "expect", "480").mustPass()
	g.dial(dialerIP, "uac.xml", newYorkNumber).mustPass()
	carrier.mustPass()
	g.stop()
	recs := g.auditRecords()
	if len(recs) != 2 || recs[0]["rule"] != "state-hours" || recs[1]["decision"] != "allow" {
		t.Fatalf("audit: %v", recs)
	}
}

func TestFourthCallToFloridaWithin24HoursIsRejected(t *testing.T) {
	g := shippedGatekeeper(t, fridayNoon)
	carrier := g.carrier("uas.xml", 3)
	for range 3 {
		g.dial(dialerIP, "uac.xml", floridaNumber).mustPass()
	}
	carrier.mustPass()
	g.dial(dialerIP, "uac_reject.xml", floridaNumber, "-set", "expect", "480").mustPass()
	g.stop()
	recs := g.auditRecords()
	if len(recs) != 4 || recs[3]["rule"] != "state-frequency" {
		t.Fatalf("audit: %v", recs)
	}
}

func TestCallWithoutCallerIDIsRejected(t *testing.T) {
	g := shippedGatekeeper(t, fridayNoon)
	g.dial(dialerIP, "uac_reject.xml", cleanNumber, "-set", "caller", "anonymous", "-set", "expect", "403").mustPass()
	g.stop()
	if recs := g.auditRecords(); len(recs) != 1 || recs[0]["rule"] != "caller-id" {
		t.Fatalf("audit: %v", recs)
	}
}

func TestStaleNationalListFailsClosed(t *testing.T) {
	g := newGatekeeper(t)
	g.useShippedPolicy()
	g.clock = fridayNoon
	g.importListWith("ftc", []string{"--source-date", "2026-10-01"}, listedNumber) // 50 days old
	g.start()
	g.dial(dialerIP, "uac_reject.xml", cleanNumber, "-set", "expect", "503").mustPass()
	g.stop()
	if recs := g.auditRecords(); len(recs) != 1 || recs[0]["rule"] != "national-registry-stale" {
		t.Fatalf("audit: %v", recs)
	}
}
