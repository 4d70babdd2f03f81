package main

import (
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/audit"
)

// An auditor checks a bundle with the bundle and the log's public key
// alone, in a folder that holds no audit log and no config.
func TestVerifyEvidenceNeedsNoAuditFolder(t *testing.T) {
	dir, keys := t.TempDir(), t.TempDir()
	key := filepath.Join(keys, "audit.key")
	signer, err := audit.LoadSigner(key, "gatekeeper/test")
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(dir, audit.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Retain: -1, Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	l.Append(audit.Record{Time: time.Now(), CallID: "c1@dialer", Decision: "reject", Rule: "internal-dnc", Status: 603,
		Called: "+12025550199", Caller: "+13125550100", Dialer: "predictive", Mode: "enforce", PolicySHA256: strings.Repeat("ab", 32)})
	if err := l.Close(); err != nil { // signs the checkpoint that covers it
		t.Fatal(err)
	}
	bundle := filepath.Join(keys, "evidence.json")
	if out, err := runCmd(t, newAuditCmd(), "evidence", "--dir", dir, "--key", key+".pub", "--call-id", "c1@dialer", "-o", bundle); err != nil {
		t.Fatalf("audit evidence: %v\n%s", err, out)
	}
	t.Chdir(t.TempDir()) // no ./var/audit, the embedded config's folder
	out, err := runCmd(t, newAuditCmd(), "verify-evidence", "--key", key+".pub", bundle)
	if err != nil || !strings.Contains(out, "call c1@dialer proven") {
		t.Errorf("audit verify-evidence --key KEY BUNDLE: %v\n%s", err, out)
	}
	out, err = runCmd(t, newAuditCmd(), "verify-evidence", "--key", "no.pub", bundle)
	if err == nil || !strings.Contains(err.Error(), "open no.pub: no such file") {
		t.Errorf("audit verify-evidence with a key file that is not there: %v\n%s", err, out)
	}
	// A key given that is not there is an error, not a check without signatures.
	out, err = runCmd(t, newAuditCmd(), "verify", "--dir", dir, "--key", "no.pub")
	if err == nil || !strings.Contains(err.Error(), "open no.pub: no such file") {
		t.Errorf("audit verify with a key file that is not there: %v\n%s", err, out)
	}
}
