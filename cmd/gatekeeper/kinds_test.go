package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// The data set kinds load through import --kind (and consent import), show
// in lookup and lists, and consents change live, on the store and through a
// running server.
func TestDataSetCommands(t *testing.T) {
	dir, cfg, socket := registryTestDir(t, map[string]string{
		"blocks-2026-11-01.csv": "NPA,NXX,X,LTYPE,ST\n202,555,0,C,DC\n202,555,1,S,DC\n",
		"bad-blocks.csv":        "npa,nxx,x,type\n202,555,0,C\n202,555,1,Z\n",
		"w2w.txt":               "2025551100\n",
		"consent.csv":           "number,seller,campaign,kind,granted_at,expires_at,revoked_at,evidence\n2025550143,acme,,written,2026-01-10,,,form 17\n",
		"rnd.csv":               "number,asked_on,answer,disconnected_on\n2025550143,2025-06-01,no,\n",
		"ebr.csv":               "number,seller,kind,date\n2025550143,acme,purchase,2026-02-01\n",
	})
	t.Chdir(dir)

	out, err := runCmd(t, newImportCmd(), "--config", cfg, "--kind", "blocks", "--map", "type=LTYPE", "--map", "state=ST", "blocks-2026-11-01.csv")
	if err != nil || !strings.Contains(out, "imported blocks: version 1, 2 records, data as of 2026-11-01 (file name)") {
		t.Fatalf("import --kind blocks: %v\n%s", err, out)
	}
	_, err = runCmd(t, newImportCmd(), "--config", cfg, "--kind", "blocks", "bad-blocks.csv")
	if err == nil || err.Error() != filepath.Join(dir, "bad-blocks.csv")+`:3: type "Z" is not wireless, landline, voip, pager or mixed (or a code C, S, V, P, M)` {
		t.Errorf("a bad blocks file: %v", err)
	}
	for _, args := range [][]string{{"--kind", "dnc", "w2w.txt"}, {"--kind", "ebr", "--list", "x", "ebr.csv"}, {"--kind", "carriers", "w2w.txt"}} {
		if _, err := runCmd(t, newImportCmd(), append([]string{"--config", cfg}, args...)...); err == nil {
			t.Errorf("import %v was accepted", args)
		}
	}
	if out, err = runCmd(t, newImportCmd(), "--config", cfg, "--kind", "wireline-to-wireless", "w2w.txt"); err != nil || !strings.Contains(out, "imported list wireline-to-wireless: version 2, 1 numbers") {
		t.Fatalf("import --kind wireline-to-wireless: %v\n%s", err, out)
	}
	if out, err = runCmd(t, newConsentCmd(), "--config", cfg, "import", "consent.csv"); err != nil || !strings.Contains(out, "imported consent: version 3, 1 records") {
		t.Fatalf("consent import: %v\n%s", err, out)
	}
	for _, kind := range []string{"rnd", "ebr"} {
		if out, err := runCmd(t, newImportCmd(), "--config", cfg, "--kind", kind, kind+".csv"); err != nil {
			t.Fatalf("import --kind %s: %v\n%s", kind, err, out)
		}
	}

	out, err = runCmd(t, newLookupCmd(), "--config", cfg, "--json", "2025550143")
	var r lookupResult
	if err != nil || json.Unmarshal([]byte(out), &r) != nil || r.LineType.Type != "mobile" || r.LineType.Source != "block" ||
		r.LineType.State != "DC" || r.LineType.Version != 1 || r.LineType.Block.String() != "202-555-0" ||
		len(r.Consents) != 1 || r.Consents[0].Evidence != "form 17" || len(r.RND) != 1 || len(r.Exemptions) != 1 {
		t.Errorf("lookup --json: %v\n%s", err, out)
	}
	out, err = runCmd(t, newLookupCmd(), "--config", cfg, "2025551100")
	if err != nil || !strings.Contains(out, "line type: mobile (from wireline-to-wireless, version 2)") {
		t.Errorf("lookup of a ported number: %v\n%s", err, out)
	}
	out, err = runCmd(t, newListsCmd(), "--config", cfg)
	if err != nil || !strings.Contains(out, "wireline-to-wireless") ||
		!regexp.MustCompile(`(?m)^blocks +1 +2026-11-01 +\S+ +2 .* blocks-2026-11-01.csv$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^consent +3 `).MatchString(out) || !regexp.MustCompile(`(?m)^ebr +5 `).MatchString(out) {
		t.Errorf("lists: %v\n%s", err, out)
	}

	// Through a running server: a revocation reaches the server's store at once.
	store, err := registry.Open(registry.DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stop := serveAdmin(t, socket, store)
	now := time.Now()
	if a, _ := policy.DecideConsent(store, "+12025550143", "acme", "", now); a.Kind != "written" {
		t.Fatalf("before the revocation: %+v", a)
	}
	out, err = runCmd(t, newConsentCmd(), "--config", cfg, "revoke", "--seller", "acme", "--reason", "asked to stop", "202-555-0143")
	if err != nil || !strings.HasPrefix(out, "+12025550143  consents revoked for seller acme, campaign any, from ") {
		t.Fatalf("consent revoke through the server: %v\n%s", err, out)
	}
	a, _ := policy.DecideConsent(store, "+12025550143", "acme", "", time.Now())
	if a.Kind != "none" || a.Why != policy.WhyRevoked || !strings.Contains(a.Detail, "via cli through the admin socket (uid ") {
		t.Errorf("after the revocation: %+v", a)
	}
	out, err = runCmd(t, newConsentCmd(), "--config", cfg, "add", "--kind", "express", "--seller", "globex", "--evidence", "call 77", "2025550143")
	if err != nil || !strings.Contains(out, "added: express for seller globex") {
		t.Fatalf("consent add through the server: %v\n%s", err, out)
	}
	if a, _ := policy.DecideConsent(store, "+12025550143", "globex", "", time.Now().Add(time.Second)); a.Kind != "express" || a.Record.Evidence != "call 77" {
		t.Errorf("after the live grant: %+v", a)
	}
	out, err = runCmd(t, newLookupCmd(), "--config", cfg, "2025550143")
	if err != nil || !strings.Contains(out, "consent revoked for seller acme, campaign any") || !strings.Contains(out, `evidence "call 77"`) ||
		!strings.Contains(out, "exemption 5.1: purchase with seller acme on 2026-02-01") || !strings.Contains(out, "rnd 4.1: no for 2025-06-01") {
		t.Errorf("lookup through the server: %v\n%s", err, out)
	}
	if out, err = runCmd(t, newImportCmd(), "--config", cfg, "--kind", "rnd", "rnd.csv"); err != nil || !strings.Contains(out, "imported rnd: version 6") {
		t.Errorf("import --kind rnd through the server: %v\n%s", err, out)
	}
	stop()
}
