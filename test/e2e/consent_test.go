package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
)

// These tests run the shipped policy with line type, consent and exemption
// data: imported through the CLI, consents revoked through the running
// server. The block data makes every NPA-555 exchange a landline exchange
// (the numbers of the other e2e tests) and 212-556 a wireless one.
const (
	mobileNumber = "2125560143" // New York, wireless block
	ebrNumber    = "2025550177" // on the national list, with an EBR
)

// importLandlineBlocks loads the block data every shipped-policy test runs on.
func (g *gatekeeper) importLandlineBlocks() {
	g.t.Helper()
	var b strings.Builder
	b.WriteString("npa,nxx,x,type,state\n")
	for npa := 201; npa <= 999; npa++ {
		if number.CheckExchange(uint32(npa*1000+555)) == nil { // no block in an N11 or reserved area code
			fmt.Fprintf(&b, "%d,555,,landline,\n", npa)
		}
	}
	b.WriteString("212,556,,wireless,NY\n")
	g.importData("blocks", b.String())
}

// importData imports a data set of the given kind from text, through the CLI.
func (g *gatekeeper) importData(kind, text string) {
	g.t.Helper()
	f, err := os.CreateTemp(g.dir, kind+"-*.csv")
	if err != nil {
		g.t.Fatal(err)
	}
	f.WriteString(text)
	f.Close()
	if out, err := g.run("import", "--kind", kind, f.Name()); err != nil {
		g.t.Fatalf("import --kind %s: %v\n%s", kind, err, out)
	}
}

func TestDNCListedNumberIsAllowedWithAnEBRAndRejectedAfterAnInternalOptOut(t *testing.T) {
	g := shippedGatekeeper(t, fridayNoon, ebrNumber)
	// Through the running server: a purchase two months before the call.
	g.importData("ebr", "number,seller,kind,date\n"+ebrNumber+",,purchase,2026-09-15\n")
	carrier := g.carrier("uas.xml", 1)
	g.dial(dialerIP, "uac.xml", ebrNumber).mustPass()
	carrier.mustPass()
	if out, err := g.run("dnc", "add", "--list", "internal", "--reason", "asked on the call", ebrNumber); err != nil {
		t.Fatalf("dnc add: %v\n%s", err, out)
	}
	g.dial(dialerIP, "uac_reject.xml", ebrNumber, "-set", "expect", "603").mustPass()
	g.stop()
	recs := g.auditRecords()
	if len(recs) != 2 || recs[0]["decision"] != "allow" || recs[0]["rule"] != "default" || recs[1]["rule"] != "internal-dnc" {
		t.Fatalf("audit: %v", recs)
	}
}

func TestAutomatedCallToAMobileNeedsConsentAndAManualOneDoesNot(t *testing.T) {
	g := shippedGatekeeper(t, fridayNoon)
	carrier := g.carrier("uas.xml", 1)
	g.dial(dialerIP, "uac_reject.xml", mobileNumber, "-set", "expect", "403").mustPass()
	g.dial(dialerIP, "uac_manual.xml", mobileNumber).mustPass()
	carrier.mustPass()
	g.stop()
	recs := g.auditRecords()
	if len(recs) != 2 || recs[0]["rule"] != "mobile-automated-consent" || recs[0]["status"] != 403.0 ||
		recs[1]["decision"] != "allow" || recs[1]["dial_mode"] != "manual" {
		t.Fatalf("audit: %v", recs)
	}
}

func TestConsentRevokedThroughTheServerRejectsTheNextCall(t *testing.T) {
	g := shippedGatekeeper(t, fridayNoon)
	g.importData("consent", "number,seller,campaign,kind,granted_at,expires_at,revoked_at,evidence\n"+mobileNumber+",,,written,2026-01-05,,,web form 88\n")
	carrier := g.carrier("uas.xml", 1)
	g.dial(dialerIP, "uac.xml", mobileNumber).mustPass()
	carrier.mustPass()
	// The gatekeeper's clock runs from fridayNoon; the revocation is dated
	// within it, an hour before the next call.
	out, err := g.run("consent", "revoke", "--at", "2026-11-20T11:00:00-05:00", "--reason", "asked to stop", mobileNumber)
	if err != nil || !strings.Contains(out, "consents revoked") {
		t.Fatalf("consent revoke: %v\n%s", err, out)
	}
	g.dial(dialerIP, "uac_reject.xml", mobileNumber, "-set", "expect", "403").mustPass()
	out, err = g.run("lookup", mobileNumber)
	if err != nil || !strings.Contains(out, `evidence "web form 88"`) || !strings.Contains(out, "through the admin socket") {
		t.Errorf("lookup: %v\n%s", err, out)
	}
	g.stop()
	recs := g.auditRecords()
	if len(recs) != 2 || recs[0]["decision"] != "allow" || recs[1]["rule"] != "mobile-automated-consent" {
		t.Fatalf("audit: %v", recs)
	}
}
