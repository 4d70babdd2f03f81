package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

const testPolicy = "rules:\n  - name: internal-dnc\n    match: {listed: internal}\n    action: reject\n"

// callLog writes a log with two calls, the policy load and data changes
// their decisions name, and a checkpoint over all of it.
func callLog(t testing.TB) (dir string) {
	t.Helper()
	dir = t.TempDir()
	signer, _ := testKey(t)
	sum := sha256.Sum256([]byte(testPolicy))
	sha := hex.EncodeToString(sum[:])
	os.MkdirAll(filepath.Join(dir, PoliciesDir), 0o750)
	os.WriteFile(filepath.Join(dir, PoliciesDir, sha+".yaml"), []byte(testPolicy), 0o640)

	l, _ := open(t, dir, Options{Signer: signer})
	at := time.Date(2031, 1, 2, 3, 0, 0, 0, time.UTC)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.AppendEvent(KindPolicyLoaded, at, map[string]any{"policy_sha256": sha, "file": "policy.yaml"}))
	must(l.AppendEvent(KindDataChange, at, map[string]any{"data_set": "internal", "version": 7, "count": 3}))
	// A live opt-out of another number, in the same version: not this call's evidence.
	must(l.AppendEvent(KindDataChange, at, map[string]any{"data_set": "internal", "version": 7, "number": "+13055550100"}))
	// A live opt-out of this call's number on a list only changed live (version 0): its evidence too.
	must(l.AppendEvent(KindDataChange, at, map[string]any{"list": "dnc", "version": 0, "number": "+12025550143"}))
	for i, call := range []string{"call-a", "call-b"} {
		r := fullRecord(i)
		r.CallID, r.PolicySHA256 = call, sha
		if call == "call-b" {
			r.Called = "+13055550100"
		}
		l.Append(r)
	}
	must(l.AppendEvent(KindOutcome, at.Add(time.Minute), map[string]any{"call_id": "call-a", "called": "+12025550143", "status": 200, "ended_by": "dialer"}))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestEvidenceOfOneCall(t *testing.T) {
	dir := callLog(t)
	cs, err := Checkpoints(dir, nil)
	if err != nil || len(cs) == 0 {
		t.Fatal(cs, err)
	}
	b, err := Evidence(dir, EvidenceQuery{CallID: "call-a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range b.Records {
		var f recordFields
		json.Unmarshal([]byte(r.Line), &f)
		kinds = append(kinds, f.Kind)
		if strings.Contains(r.Line, "+13055550100") {
			t.Errorf("the bundle holds another called number: %s", r.Line)
		}
	}
	if strings.Join(kinds, ",") != "policy_loaded,data_change,data_change,decision,outcome" {
		t.Errorf("records of kinds %v", kinds)
	}
	if len(b.Policies) != 1 {
		t.Errorf("policies %v", b.Policies)
	}
	byNumber, err := Evidence(dir, EvidenceQuery{Called: "+12025550143", At: time.Date(2031, 1, 2, 4, 0, 0, 0, time.UTC)}, nil)
	if err != nil || byNumber.CallID != "call-a" {
		t.Fatalf("evidence by number and time: %v, %v", byNumber, err)
	}
	if _, err := Evidence(dir, EvidenceQuery{CallID: "nobody"}, nil); !errors.Is(err, ErrNoSuchCall) {
		t.Errorf("unknown call: %v", err)
	}
}

func TestVerifyEvidence(t *testing.T) {
	signer, verifier := testKey(t)
	dir := t.TempDir()
	l, _ := open(t, dir, Options{Signer: signer})
	r := fullRecord(0)
	r.CallID = "call-a"
	for range 20 { // neighbours, so that the proofs have some length
		l.Append(fullRecord(1))
	}
	l.Append(r)
	l.AppendEvent(KindOutcome, r.Time, map[string]any{"call_id": "call-a", "status": 200})
	l.Close()
	b, err := Evidence(dir, EvidenceQuery{CallID: "call-a"}, verifier)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := json.Marshal(b)
	s, err := VerifyEvidence(good, verifier)
	if err != nil || s.Records[KindDecision] != 1 || s.Records[KindOutcome] != 1 || s.Checkpoint.Size != 22 {
		t.Fatalf("VerifyEvidence = %+v, %v", s, err)
	}

	for name, tc := range map[string]struct {
		edit     func(b *Bundle)
		complain string
	}{
		"a record altered": {func(b *Bundle) {
			b.Records[0].Line = strings.Replace(b.Records[0].Line, `"status":200`, `"status":603`, 1)
		}, "the hash does not match"},
		"a proof from another record": {func(b *Bundle) { b.Records[0].Proof = b.Records[1].Proof }, "not in the checkpoint's tree"},
		"another call's record": {func(b *Bundle) {
			b.Records[1].Line = strings.Replace(b.Records[1].Line, "call-a", "call-b", 1)
		}, "the hash does not match"},
		"checkpoint re-signed by another key": {func(b *Bundle) {
			forger, _ := testKey(t)
			c, _ := signCheckpoint(forger, 22, tlogRoot(t, b), time.Now())
			b.Checkpoint = string(c.Note)
		}, "checkpoint signature"},
		"policy text changed": {func(b *Bundle) {
			b.Policies = map[string]string{strings.Repeat("ab", 32): "rules: []\n"}
		}, "hashes to"},
	} {
		t.Run(name, func(t *testing.T) {
			var bad Bundle
			json.Unmarshal(good, &bad)
			tc.edit(&bad)
			data, _ := json.Marshal(bad)
			if _, err := VerifyEvidence(data, verifier); err == nil || !strings.Contains(err.Error(), tc.complain) {
				t.Fatalf("VerifyEvidence: %v; want it to say %q", err, tc.complain)
			}
		})
	}
}

func tlogRoot(t *testing.T, b *Bundle) (root [32]byte) {
	c, err := OpenCheckpoint([]byte(b.Checkpoint), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Root
}

func TestRedactKeepsEveryProof(t *testing.T) {
	dir := callLog(t)
	before, err := Evidence(dir, EvidenceQuery{CallID: "call-a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var callB uint64
	for _, line := range readLines(t, recordFile(dir)) {
		var f recordFields
		json.Unmarshal(line, &f)
		if f.CallID == "call-b" {
			callB = f.Seq
		}
	}
	if err := Redact(dir, callB, "privacy request 2031-07"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(recordFile(dir))
	if strings.Contains(string(data), "+13055550100\",\"caller") || !strings.Contains(string(data), `"redacted":"privacy request 2031-07"`) {
		t.Fatal("the record is still there, or no stub says why it went")
	}
	r, err := Verify(dir, VerifyOptions{})
	if err != nil || r.Redacted != 1 || r.Checkpoints == 0 {
		t.Fatalf("Verify after redaction = %+v, %v", r, err)
	}
	after, err := Evidence(dir, EvidenceQuery{CallID: "call-a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(before)
	b, _ := json.Marshal(after)
	if string(a) != string(b) {
		t.Error("another call's evidence changed with the redaction")
	}
	if _, err := Evidence(dir, EvidenceQuery{CallID: "call-b"}, nil); !errors.Is(err, ErrNoSuchCall) {
		t.Errorf("evidence of the redacted call: %v", err)
	}

	// The file a running server appends to waits for the day to end.
	l, _ := open(t, dir, Options{})
	defer l.Close()
	if err := Redact(dir, 1, "x"); err == nil || !strings.Contains(err.Error(), "running server") {
		t.Errorf("Redact under a running writer: %v", err)
	}
}

// The independent check in docs/audit.md ("How an auditor verifies the log"),
// run with python3 over a log with a redacted record, must pass it and find
// the tree's root.
func TestDocsPythonCheck(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	doc, err := os.ReadFile("../docs/audit.md")
	if err != nil {
		t.Fatal(err)
	}
	_, script, _ := strings.Cut(string(doc), "```python\n")
	script, _, _ = strings.Cut(script, "```")
	dir := callLog(t)
	if err := Redact(dir, 2, "privacy request 2031-07"); err != nil {
		t.Fatal(err)
	}
	r, err := Verify(dir, VerifyOptions{})
	if err != nil || r.Redacted != 1 {
		t.Fatalf("Verify = %+v, %v", r, err)
	}
	out, err := exec.Command(python, "-c", script, dir).CombinedOutput()
	want := fmt.Sprintf("%d records; root %s:", r.Size, r.Root)
	if err != nil || !strings.HasPrefix(string(out), want) {
		t.Errorf("the docs' check: %v\n%s\nwant %s", err, out, want)
	}
}

// The figures docs/benchmarks.md quotes: the bundle of an answered call
// (its decision as the shipped policy writes it, its outcome) in a log of a
// million records.
func BenchmarkEvidence(b *testing.B) {
	signer, verifier := testKey(b)
	dir := b.TempDir()
	l, _ := open(b, dir, Options{Signer: signer, QueueSize: 1 << 20})
	r := fullRecord(0)
	for range 1 << 20 {
		l.Append(r)
	}
	r = shippedRecord(0)
	r.CallID = "the-call"
	l.Append(r)
	l.AppendEvent(KindOutcome, r.Time, map[string]any{"call_id": "the-call", "status": 200, "answered_at": r.Time, "ended_at": r.Time.Add(time.Minute), "ended_by": "carrier"})
	l.Close()
	bundle, err := Evidence(dir, EvidenceQuery{CallID: "the-call"}, verifier)
	if err != nil {
		b.Fatal(err)
	}
	data, _ := json.Marshal(bundle)
	b.Logf("bundle: %d bytes, %d records", len(data), len(bundle.Records))
	b.Run("verify", func(b *testing.B) {
		start := cpuTime(b)
		for b.Loop() {
			if _, err := VerifyEvidence(data, verifier); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, start, b.N, "op")
	})
	cs, _ := Checkpoints(dir, nil)
	tree, _ := openHashFileReadOnly(dir)
	defer tree.Close()
	days, _ := logFiles(dir)
	found, err := findCall(dir, days, EvidenceQuery{CallID: "the-call"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("build", func(b *testing.B) {
		start := cpuTime(b)
		for b.Loop() {
			bundle, err := bundleOf(dir, found, cs[len(cs)-1], tree)
			if err != nil {
				b.Fatal(err)
			}
			json.Marshal(bundle)
		}
		reportCPU(b, start, b.N, "op")
	})
}

// docsFold is step 3 of "Checking a bundle by hand" in docs/audit.md, written
// from the text alone: the proofs Evidence writes must pass it.
func docsFold(proof []tlog.Hash, i, n int64, leaf tlog.Hash) (tlog.Hash, bool) {
	fn, sn, r := i, n-1, leaf
	for _, p := range proof {
		if sn == 0 {
			return r, false
		}
		if fn%2 == 1 || fn == sn {
			r = sha256.Sum256(append(append([]byte{1}, p[:]...), r[:]...))
			for fn%2 == 0 && fn != 0 {
				fn, sn = fn/2, sn/2
			}
		} else {
			r = sha256.Sum256(append(append([]byte{1}, r[:]...), p[:]...))
		}
		fn, sn = fn/2, sn/2
	}
	return r, sn == 0
}

func TestDocsFoldAgreesWithProofs(t *testing.T) {
	for _, records := range []int{1, 2, 3, 7, 8, 9, 33} {
		signer, _ := testKey(t)
		dir := t.TempDir()
		l, _ := open(t, dir, Options{Signer: signer})
		for i := range records {
			r := fullRecord(i)
			r.CallID = fmt.Sprintf("call-%d", i)
			l.Append(r)
		}
		l.Close()
		for i := range records {
			b, err := Evidence(dir, EvidenceQuery{CallID: fmt.Sprintf("call-%d", i)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			cp, _ := OpenCheckpoint([]byte(b.Checkpoint), nil)
			line := b.Records[0].Line
			body := line[:len(line)-hashSuffixLen] + "}"
			leaf := sha256.Sum256(append([]byte{0}, body...))
			if root, ok := docsFold(b.Records[0].Proof, int64(i), cp.Size, leaf); !ok || root != cp.Root {
				t.Fatalf("%d records, record %d: the documented fold does not reach the root", records, i+1)
			}
		}
	}
}
