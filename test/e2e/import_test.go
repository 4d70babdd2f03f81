package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// A full import that would take most of a list off it is refused by the
// running server before anything changes: the list keeps answering calls;
// --replace then makes the file the whole list.
func TestShrinkingImportThroughTheServerIsRefused(t *testing.T) {
	g := newGatekeeper(t)
	g.importList("internal", listedNumber, "9725550100", "9725550101")
	g.start()
	one := filepath.Join(g.dir, "one.txt")
	writeFile(t, one, "9725550100\n")

	out, err := g.run("import", "--list", "internal", one)
	if err == nil || !strings.Contains(out, "list internal: a full import would remove too much of the list: 2 of its 3 numbers would go (66.7%, more than the 10%") ||
		!strings.Contains(out, "import them with --delta") || !strings.Contains(out, "add --replace") {
		t.Fatalf("shrinking import through the server: %v\n%s", err, out)
	}
	g.dial(dialerIP, "uac_reject.xml", listedNumber, "-set", "expect", "603").mustPass()

	if out, err := g.run("import", "--list", "internal", "--replace", one); err != nil || !strings.Contains(out, "imported list internal: version 2, 1 numbers") {
		t.Fatalf("import --replace: %v\n%s", err, out)
	}
	if out, err := g.run("lookup", listedNumber); err != nil || strings.Contains(out, "internal") {
		t.Errorf("lookup after the replacement: %v\n%s", err, out)
	}
	g.stop()
	if recs := g.auditRecords(); len(recs) != 1 || recs[0]["rule"] != "internal-dnc" {
		t.Errorf("audit: %v", recs)
	}
}
