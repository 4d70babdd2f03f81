package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	cleanNumber  = "2025550143"
	listedNumber = "2025550199"
)

func TestAllowedCallCompletesThroughTheProxy(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	carrier := g.carrier("uas.xml", 1)
	dialer := g.dial(dialerIP, "uac.xml", cleanNumber, "-set", "campaign", "spring-sale")
	dialer.mustPass()
	carrier.mustPass()

	got := dialer.received()
	for _, want := range []string{"SIP/2.0 100 Trying", "SIP/2.0 180 Ringing", "SIP/2.0 200 OK"} {
		if !slices.Contains(got, want) {
			t.Errorf("dialer did not receive %q; got %q", want, got)
		}
	}
	if got := carrier.received(); !slices.ContainsFunc(got, prefix("ACK ")) || !slices.ContainsFunc(got, prefix("BYE ")) {
		t.Errorf("carrier did not receive ACK and BYE through the proxy: %q", got)
	}
	if msgs := carrier.messages(); !strings.Contains(msgs, "Max-Forwards: 69") || !strings.Contains(msgs, "Record-Route: <sip:127.0.0.1:") {
		t.Errorf("forwarded INVITE lacks a decremented Max-Forwards or our Record-Route:\n%s", msgs)
	}

	g.stop()
	recs := g.auditRecords()
	if len(recs) != 1 {
		t.Fatalf("want 1 audit record, got %d: %v", len(recs), recs)
	}
	r := recs[0]
	for k, want := range map[string]any{"decision": "allow", "rule": "default", "status": 200.0, "called": "+12025550143",
		"caller": "+12025550100", "dialer": "predictive", "campaign": "spring-sale", "mode": "enforce"} {
		if r[k] != want {
			t.Errorf("audit %s = %v, want %v", k, r[k], want)
		}
	}
	for _, k := range []string{"prerecorded", "monitor"} { // false: left out
		if v, ok := r[k]; ok {
			t.Errorf("audit %s = %v, want it absent (false)", k, v)
		}
	}
	if !strings.HasPrefix(r["source"].(string), dialerIP+":") || r["call_id"] == "" || r["time"] == "" {
		t.Errorf("audit record lacks source, call_id or time: %v", r)
	}
	// The policy put in force at start, the call's decision and its outcome.
	out, err := g.run("audit", "verify")
	if err != nil || !strings.Contains(out, "3 records intact") || !strings.Contains(out, "1 signed checkpoints match the records") {
		t.Errorf("audit verify: %v %s", err, out)
	}
	// One call's evidence, checked offline with the public key alone.
	bundle := filepath.Join(g.dir, "evidence.json")
	if out, err := g.run("audit", "evidence", "--call-id", r["call_id"].(string), "-o", bundle); err != nil {
		t.Errorf("audit evidence: %v %s", err, out)
	}
	// Its outcome names the decision, so the proof is the outcome's alone.
	if o := g.auditLog("outcome"); len(o) != 1 || o[0]["decision_hash"] != r["hash"] {
		t.Errorf("the outcome does not name the decision %v: %v", r["hash"], o)
	}
	if out, err := g.run("audit", "verify-evidence", bundle); err != nil || !strings.Contains(out, "decision 1, outcome 1, data_change ") || !strings.Contains(out, "proven by their hash in another proven record") {
		t.Errorf("audit verify-evidence: %v %s", err, out)
	}
	// The checkpoint signed at shutdown covers the call's records.
	if out, err := g.run("audit", "checkpoint"); err != nil || !strings.Contains(out, "\n3\n") || !strings.Contains(out, "\n\n— gatekeeper/") {
		t.Errorf("audit checkpoint: %v %s", err, out)
	}
}

func TestListedNumberIsRejectedAndNeverReachesTheCarrier(t *testing.T) {
	g := newGatekeeper(t)
	g.importList("internal", listedNumber)
	g.start()
	carrier := g.carrier("uas.xml", 1)
	dialer := g.dial(dialerIP, "uac_reject.xml", listedNumber, "-set", "expect", "603")
	dialer.mustPass()
	if msgs := dialer.messages(); !strings.Contains(msgs, `Reason: SIP;cause=603;text="internal-dnc"`) {
		t.Errorf("603 lacks the RFC 3326 Reason header:\n%s", msgs)
	}
	if got := carrier.received(); len(got) != 0 {
		t.Errorf("carrier saw %q for a listed number", got)
	}
	if m := g.adminGet("/metrics"); !strings.Contains(m, `gatekeeper_decisions_total{decision="reject",rule="internal-dnc",status="603"} 1`) {
		t.Errorf("metrics do not count the rejection:\n%s", m)
	}
	// The auditors' page finds the call once its record is written (within 200 ms).
	var page string
	for range 20 {
		if page = g.adminGet("/?rule=internal-dnc"); strings.Contains(page, `<td class="reject">reject</td>`) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(page, `<td class="reject">reject</td>`) || !strings.Contains(page, "<td>internal-dnc</td>") {
		t.Errorf("the auditors' page does not show the rejection:\n%s", page)
	}
	g.stop()
	recs := g.auditRecords()
	if len(recs) != 1 || recs[0]["decision"] != "reject" || recs[0]["rule"] != "internal-dnc" || recs[0]["status"] != 603.0 {
		t.Fatalf("audit: %v", recs)
	}
}

func TestCancelBeforeAnswer(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	carrier := g.carrier("uas_ring.xml", 1)
	dialer := g.dial(dialerIP, "uac_cancel.xml", cleanNumber)
	dialer.mustPass()
	carrier.mustPass()
	if got := dialer.received(); !slices.Contains(got, "SIP/2.0 487 Request Terminated") {
		t.Errorf("dialer got no 487: %q", got)
	}
	msgs := carrier.messages()
	invCSeq := headerOf(msgs, "INVITE ", "CSeq:")
	cancelCSeq := headerOf(msgs, "CANCEL ", "CSeq:")
	if cancelCSeq == "" || strings.Fields(cancelCSeq)[0] != strings.Fields(invCSeq)[0] {
		t.Errorf("CANCEL CSeq %q does not carry the INVITE's number %q", cancelCSeq, invCSeq)
	}
	g.stop()
	if recs := g.auditRecords(); len(recs) != 1 || recs[0]["status"] != 487.0 {
		t.Fatalf("audit: %v", recs)
	}
}

func TestByeFromTheCarrierReachesTheDialer(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	carrier := g.carrier("uas_bye.xml", 1)
	dialer := g.dial(dialerIP, "uac_recv_bye.xml", cleanNumber)
	dialer.mustPass()
	carrier.mustPass()
	if got := dialer.received(); !slices.ContainsFunc(got, prefix("BYE ")) {
		t.Errorf("dialer got no BYE: %q", got)
	}
}

func TestCallOverTCP(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	carrier := g.carrier("uas.xml", 1)
	dialer := g.dial(dialerIP, "uac.xml", cleanNumber, "-t", "t1")
	dialer.mustPass()
	carrier.mustPass()
}

func TestCarrierErrorIsRelayedAndAckedHopByHop(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	carrier := g.carrier("uas_reject.xml", 1)
	dialer := g.dial(dialerIP, "uac_reject.xml", cleanNumber, "-set", "expect", "486")
	dialer.mustPass()
	carrier.mustPass()
}

func TestStrangerGets403AndNothingIsForwarded(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	carrier := g.carrier("uas.xml", 1)
	dialer := g.dial(strangerIP, "uac_reject.xml", cleanNumber, "-set", "expect", "403")
	dialer.mustPass()
	if got := carrier.received(); len(got) != 0 {
		t.Errorf("carrier saw %q from a stranger", got)
	}
	// A BYE for a call that never went through is refused as well.
	res := g.sendRaw(strangerIP, "BYE sip:2025550143@127.0.0.1:5070 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKbye1\nMax-Forwards: 70\nFrom: <sip:a@127.0.0.3>;tag=1\nTo: <sip:b@127.0.0.1>;tag=2\nCall-ID: stranger-bye\nCSeq: 2 BYE\nContent-Length: 0\n\n")
	if !strings.HasPrefix(res, "SIP/2.0 403 ") {
		t.Errorf("stranger's BYE got %q", firstLine(res))
	}
	if got := carrier.received(); len(got) != 0 {
		t.Errorf("carrier saw %q from a stranger", got)
	}
}

func TestMaxForwardsZeroGets483AndOptionsGets200(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	invite := "INVITE sip:2025550143@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKmf0\nMax-Forwards: 0\nFrom: <sip:2025550100@127.0.0.2>;tag=1\nTo: <sip:2025550143@127.0.0.1>\nCall-ID: mf0\nCSeq: 1 INVITE\nContent-Length: 0\n\n"
	if res := g.sendRaw(dialerIP, invite); !strings.HasPrefix(res, "SIP/2.0 483 ") {
		t.Errorf("Max-Forwards 0 got %q, want 483", firstLine(res))
	}
	options := "OPTIONS sip:127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKopt\nMax-Forwards: 70\nFrom: <sip:ping@127.0.0.2>;tag=1\nTo: <sip:127.0.0.1>\nCall-ID: opt1\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n"
	if res := g.sendRaw(dialerIP, options); !strings.HasPrefix(res, "SIP/2.0 200 ") {
		t.Errorf("OPTIONS got %q, want 200", firstLine(res))
	}
}

func TestUnparsableNumberGets484(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	g.dial(dialerIP, "uac_reject.xml", "555", "-set", "expect", "484").mustPass()
}

// A local number in a global phone-context (RFC 3966 §5.1.5) names the
// context's digits followed by its own: the listed 202-555-0199, in a sip:
// user part (from SIPp), with user=phone and as a tel: URI. It is decided by
// the policy, not answered 484.
func TestLocalNumberInPhoneContextIsDecided(t *testing.T) {
	g := newGatekeeper(t)
	g.importList("internal", listedNumber)
	g.start()
	g.dial(dialerIP, "uac_reject.xml", "555-0199;phone-context=+1-202", "-set", "expect", "603").mustPass()
	for i, ruri := range []string{"tel:555-0199;phone-context=+1-202", "sip:555-0199;phone-context=%2B1-202@127.0.0.1;user=phone"} {
		invite := fmt.Sprintf("INVITE %[1]s SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKpc%[2]d\nMax-Forwards: 70\n"+
			"From: <sip:2025550100@127.0.0.2>;tag=1\nTo: <%[1]s>\nCall-ID: pc%[2]d\nCSeq: 1 INVITE\nContent-Length: 0\n\n", ruri, i)
		if res := g.sendRaw(dialerIP, invite); !strings.HasPrefix(res, "SIP/2.0 603 ") || !strings.Contains(res, `text="internal-dnc"`) {
			t.Errorf("%s: got %q, want 603 by internal-dnc", ruri, firstLine(res))
		}
	}
}

func TestImportWhileServingChangesTheNextCall(t *testing.T) {
	g := newGatekeeper(t)
	g.start()
	carrier := g.carrier("uas.xml", 1)
	g.dial(dialerIP, "uac.xml", listedNumber).mustPass()
	carrier.mustPass()

	g.importList("internal", listedNumber)
	g.dial(dialerIP, "uac_reject.xml", listedNumber, "-set", "expect", "603").mustPass()

	out, err := g.run("lookup", "--json", listedNumber)
	if err != nil || !strings.Contains(out, `"internal"`) {
		t.Errorf("lookup while serving: %v %s", err, out)
	}
}

func prefix(p string) func(string) bool {
	return func(s string) bool { return strings.HasPrefix(s, p) }
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// headerOf finds the first message in a SIPp trace whose start line begins
// with start, and returns the value of its header name.
func headerOf(trace, start, name string) string {
	for _, line := range strings.Split(messageOf(trace, start), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// messageOf is the header section of the first message in a SIPp trace
// whose start line begins with start.
func messageOf(trace, start string) string {
	i := strings.Index(trace, "\n"+start)
	if i < 0 {
		return ""
	}
	msg := trace[i+1:]
	if end := strings.Index(msg, "\n\n"); end > 0 {
		msg = msg[:end]
	}
	return msg
}

// A monitored rule lets the call through: the decision log and the metrics
// say it was forwarded (allow, the carrier's 200), and beside it what the
// rule would have done.
func TestMonitoredRejectIsForwardedAndLoggedAsSuch(t *testing.T) {
	g := newGatekeeper(t)
	policyFile := filepath.Join(g.dir, "policy.yaml")
	text, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, policyFile, string(text)+"    monitor: true\n") // on the test policy's one rule, internal-dnc
	g.importList("internal", listedNumber)
	g.start()
	carrier := g.carrier("uas.xml", 1)
	g.dial(dialerIP, "uac.xml", listedNumber).mustPass()
	carrier.mustPass()
	m := g.adminGet("/metrics")
	for _, want := range []string{`gatekeeper_decisions_total{decision="allow",rule="internal-dnc",status="200"} 1`,
		`gatekeeper_monitored_total{rule="internal-dnc",status="603"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, m)
		}
	}
	g.stop()
	recs := g.auditRecords()
	if len(recs) != 1 {
		t.Fatalf("audit: %v", recs)
	}
	r := recs[0]
	would, _ := r["would"].(map[string]any)
	if r["decision"] != "allow" || r["status"] != 200.0 || r["monitor"] != true || r["rule"] != "internal-dnc" || r["reason"] != nil ||
		would["decision"] != "reject" || would["status"] != 603.0 || would["reason"] != "Decline" {
		t.Errorf("audit record of a monitored call: %v", r)
	}
}

// The README tour's dialer prints the final answer of each call, whatever it is.
func TestTourDialerPrintsEveryAnswer(t *testing.T) {
	g := newGatekeeper(t)
	g.importList("internal", listedNumber)
	g.start()
	carrier := g.carrier("uas.xml", 1)
	answered := g.dial(dialerIP, "uac_any.xml", cleanNumber)
	answered.mustPass()
	refused := g.dial(dialerIP, "uac_any.xml", listedNumber)
	refused.mustPass()
	carrier.mustPass()
	for s, want := range map[*sipp]string{answered: "\nanswer: SIP/2.0 200 OK\n", refused: "\nanswer: SIP/2.0 603 Decline, rule internal-dnc\n"} {
		if !strings.Contains("\n"+s.out.String(), want) {
			t.Errorf("want %q in SIPp's output:\n%s", want, s.out.String())
		}
	}
	g.stop()
}
