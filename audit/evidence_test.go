package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/configs"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const testPolicy = "rules:\n  - name: internal-dnc\n    match: {listed: internal}\n    action: reject\n"

// callLog writes a log with two calls, the policy load and data changes
// their decisions name, and a checkpoint over all of it, as the server
// writes them: call-a's decision names the import of version 7 (its
// data_hashes), and its outcome the decision (decision_hash).
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
	must(l.AppendImport(at, DataImport{Set: "dnc/internal", Version: 7}, map[string]any{"data_set": "internal", "version": 7, "count": 3}))
	// A live opt-out of another number, in the same version: not this call's evidence.
	must(l.AppendEvent(KindDataChange, at, map[string]any{"data_set": "internal", "version": 7, "number": "+13055550100"}))
	// A live opt-out of this call's number on a list only changed live (version 0): its evidence too.
	must(l.AppendEvent(KindDataChange, at, map[string]any{"list": "dnc", "version": 0, "number": "+12025550143"}))
	for i, call := range []string{"call-a", "call-b"} {
		r := fullRecord(i)
		r.CallID, r.PolicySHA256, r.Cites = call, sha, []uint64{7}
		if call == "call-b" {
			r.Called = "+13055550100"
		}
		l.Append(r)
	}
	must(l.AppendEvent(KindOutcome, at.Add(time.Minute), Outcome{CallID: "call-a", Called: "+12025550143", Status: 200, EndedBy: "dialer"}))
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
		json.Unmarshal([]byte(r), &f)
		kinds = append(kinds, f.Kind)
		if strings.Contains(r, "+13055550100") {
			t.Errorf("the bundle holds another called number: %s", r)
		}
	}
	if strings.Join(kinds, ",") != "data_change,data_change,decision,outcome" { // the policy is its text
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
	good := mustJSON(t, b)
	s, err := VerifyEvidence(good, verifier)
	if err != nil || s.Records[KindDecision] != 1 || s.Records[KindOutcome] != 1 || s.Checkpoint.Size != 22 {
		t.Fatalf("VerifyEvidence = %+v, %v", s, err)
	}

	neighbour := string(readLines(t, recordFile(dir))[0])
	for name, tc := range map[string]struct {
		edit     func(b *Bundle)
		complain string
	}{
		"another format":      {func(b *Bundle) { b.Format = "gatekeeper-evidence/4" }, "format"},
		"format 2":            {func(b *Bundle) { b.Format = evidenceFormat2 }, "records of another format"},
		"another call_id":     {func(b *Bundle) {}, `call "call-a", not the bundle's "call-b"`}, // given beside the decision, below
		"a proof given twice": {func(b *Bundle) {}, "proof given twice"},                        // below
		"a record altered": {func(b *Bundle) {
			b.Records[1] = strings.Replace(b.Records[1], `"status":200`, `"status":603`, 1)
		}, "not in the checkpoint's tree"},
		"a record with its hash field": {func(b *Bundle) { line, _ := withHashField([]byte(b.Records[1])); b.Records[1] = string(line) }, "not in the checkpoint's tree"},
		"a record's seq changed":       {func(b *Bundle) { b.Records[1] = strings.Replace(b.Records[1], `"seq":22`, `"seq":23`, 1) }, "not in the checkpoint's tree"},
		"a record left out":            {func(b *Bundle) { b.Records = b.Records[:1] }, "not in the checkpoint's tree"},
		"records swapped":              {func(b *Bundle) { b.Records[0], b.Records[1] = b.Records[1], b.Records[0] }, "after the one before it"},
		"another call's record added":  {func(b *Bundle) { b.Records = append([]string{neighbour}, b.Records...) }, "not the bundle's"},
		"a record that is not one":     {func(b *Bundle) { b.Records[0] = "{}" }, "not a record"},
		"the proof's last byte":        {func(b *Bundle) { b.Proof[len(b.Proof)-1] ^= 1 }, "another root"},
		"the proof cut short":          {func(b *Bundle) { b.Proof = b.Proof[:len(b.Proof)-32] }, "does not fit"},
		"the proof one hash longer":    {func(b *Bundle) { b.Proof = append(b.Proof, b.Proof[:32]...) }, "does not fit"},
		"the checkpoint's size":        {func(b *Bundle) { b.Checkpoint = strings.Replace(b.Checkpoint, "\n22\n", "\n23\n", 1) }, "checkpoint signature"},
		"the checkpoint's signature":   {func(b *Bundle) { b.Checkpoint = strings.Replace(b.Checkpoint, "— ", "— x", 1) }, "checkpoint signature"},
		"checkpoint re-signed by another key": {func(b *Bundle) {
			forger, _ := testKey(t)
			c, _ := signCheckpoint(forger, 22, tlogRoot(t, b), time.Now())
			b.Checkpoint = string(c.Note)
		}, "checkpoint signature: signed by another key named gatekeeper.test/audit than the one given"},
		"checkpoint of another log": {func(b *Bundle) {
			other, err := LoadSigner(filepath.Join(t.TempDir(), "other.key"), "gatekeeper/other")
			if err != nil {
				t.Fatal(err)
			}
			c, _ := signCheckpoint(other, 22, tlogRoot(t, b), time.Now())
			b.Checkpoint = string(c.Note)
		}, "checkpoint signature: signed by gatekeeper/other, not by the key given (gatekeeper.test/audit)"},
		"policy text changed": {func(b *Bundle) {
			b.Policies = map[string]string{strings.Repeat("ab", 32): "rules: []\n"}
		}, "hashes to"},
		"policy text of another policy": {func(b *Bundle) {
			sum := sha256.Sum256([]byte("rules: []\n"))
			b.Policies = map[string]string{hex.EncodeToString(sum[:]): "rules: []\n"}
		}, "do not include the decision's policy"},
	} {
		t.Run(name, func(t *testing.T) {
			bad := *b
			bad.Records, bad.Proof = slices.Clone(b.Records), slices.Clone(b.Proof)
			tc.edit(&bad)
			data := mustJSON(t, &bad)
			switch name {
			case "another call_id": // as formats 1 and 2 gave it
				data = bytes.Replace(data, []byte(`{"format"`), []byte(`{"call_id":"call-b","format"`), 1)
			case "a proof given twice":
				data = bytes.Replace(data, []byte(`{"format"`), []byte(`{"proof":"","format"`), 1)
			}
			if _, err := VerifyEvidence(data, verifier); err == nil || !strings.Contains(err.Error(), tc.complain) {
				t.Fatalf("VerifyEvidence: %v; want it to say %q", err, tc.complain)
			}
		})
	}
}

// withHash replaces old by new in line and gives it the hash of what it then says.
func withHash(line, old, new string) string {
	return strings.TrimSuffix(string(rehashed(replaceOnce(old, new))([]byte(line), nil)), "\n")
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

// docsPython returns python3 and the first Python script of docs/audit.md
// after the text after; the test is skipped without python3.
func docsPython(t *testing.T, after string) (python, script string) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	doc, err := os.ReadFile("../docs/audit.md")
	if err != nil {
		t.Fatal(err)
	}
	_, script, _ = strings.Cut(string(doc), after+"```python\n")
	script, _, _ = strings.Cut(script, "```")
	return python, script
}

// The independent check in docs/audit.md ("How an auditor verifies the log"),
// run with python3 over a log with a redacted record, must pass it and find
// the tree's root.
func TestDocsPythonCheck(t *testing.T) {
	python, script := docsPython(t, "")
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

// The bundle check in docs/audit.md ("Checking a bundle by hand", steps 2
// to 4 in Python) passes a bundle Evidence writes and fails it when a record
// or the proof is changed.
func TestDocsPythonEvidenceCheck(t *testing.T) {
	python, script := docsPython(t, "`TestDocsPythonEvidenceCheck` runs it):\n\n")
	b, err := Evidence(callLog(t), EvidenceQuery{CallID: "call-a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(b *Bundle) (string, error) {
		path := filepath.Join(t.TempDir(), b.FileName())
		os.WriteFile(path, mustJSON(t, b), 0o600)
		out, err := exec.Command(python, "-c", script, path).CombinedOutput()
		return string(out), err
	}
	if out, err := check(b); err != nil || out != "call call-a: 4 records in the tree of size 7\n" {
		t.Fatalf("the docs' check: %v\n%s", err, out)
	}
	importLine, _ := withHashField([]byte(b.Records[0]))
	if !strings.Contains(b.Records[0], `"version":7`) || !strings.Contains(b.Records[2], `"data_hashes":["`+string(importLine[len(importLine)-66:len(importLine)-2])+`"]`) {
		t.Fatalf("the decision does not name the import's record: %s", b.Records[2])
	}
	altered := *b
	altered.Records = slices.Clone(b.Records)
	altered.Records[3] = strings.Replace(altered.Records[3], `"status":200`, `"status":603`, 1)
	if out, err := check(&altered); err == nil || !strings.Contains(out, "not in the checkpoint's tree") {
		t.Errorf("the docs' check of an altered record: %v\n%s", err, out)
	}
	// The import is proven by the decision's name alone: altered, it is
	// named by nothing and not in the proof.
	altered.Records = slices.Clone(b.Records)
	altered.Records[0] = strings.Replace(b.Records[0], `"count":3`, `"count":4`, 1)
	if out, err := check(&altered); err == nil || !strings.Contains(out, "not in the checkpoint's tree") {
		t.Errorf("the docs' check of an altered named record: %v\n%s", err, out)
	}
	altered = *b
	altered.Proof = slices.Clone(b.Proof)
	altered.Proof[0] ^= 1
	if out, err := check(&altered); err == nil || !strings.Contains(out, "not in the checkpoint's tree") {
		t.Errorf("the docs' check of a changed proof: %v\n%s", err, out)
	}
}

// The figures docs/benchmarks.md quotes: the bundle of an answered call as
// the shipped policy decides it, in a log of 10 million records
// (realisticCall), proven against the first checkpoint that covers its
// records (as audit evidence does) and, for comparison, the latest.
func BenchmarkEvidence(b *testing.B) {
	dir, found, cps, tree, verifier := realisticCall(b)
	for i, name := range []string{"first-checkpoint", "latest-checkpoint"} {
		b.Run(name, func(b *testing.B) {
			cp := cps[i]
			bundle, err := bundleOf(dir, found, cp, tree)
			if err != nil {
				b.Fatal(err)
			}
			data, _ := bundle.Encode() // as audit evidence writes it
			withoutPolicy := *bundle
			withoutPolicy.Policies = nil
			bare, _ := withoutPolicy.Encode()
			recordBytes := 0
			for _, r := range bundle.Records {
				recordBytes += len(r)
			}
			b.Logf("bundle: %d bytes, %d without the policy text; %d records (%d bytes), %d proof hashes; checkpoint of size %d (%d bytes)",
				len(data), len(bare), len(bundle.Records), recordBytes, len(bundle.Proof)/tlog.HashSize, cp.Size, len(cp.Note))
			for name, data := range map[string][]byte{"verify": data, "verify-without-policy-text": bare} {
				b.Run(name, func(b *testing.B) {
					start := cpuTime(b)
					for b.Loop() {
						if _, err := VerifyEvidence(data, verifier); err != nil {
							b.Fatal(err)
						}
					}
					reportCPU(b, start, b.N, "op")
				})
			}
			b.Run("build", func(b *testing.B) {
				start := cpuTime(b)
				for b.Loop() {
					bundle, err := bundleOf(dir, found, cp, tree)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := bundle.Encode(); err != nil {
						b.Fatal(err)
					}
				}
				reportCPU(b, start, b.N, "op")
			})
		})
	}
}

// realisticCall is an allowed call under the shipped policy (configs/policy.yaml)
// with the records its bundle holds, as the writer writes them: the two
// imports' data_change records, the decision (shippedRecord, its trace
// citing the FTC list's import 37, in the stale and the listed condition,
// then the blocks' import 31; its data_hashes naming both records), and its
// outcome (naming the decision). They are then numbered as in a log of 10
// million records (the blocks imported weeks ago, the FTC list this
// morning, the call, its outcome a minute and 120,000 records later, at
// 2,000 records/s), with the hashes each then has, its names following, and
// tree (a tree.hashes file, sparse: only the hashes a proof reads) holds
// them among 10 million other leaves. cps are the checkpoint the writer
// signed first after the outcome (size 9,130,000: 5 s of records later) and
// the one of the whole log.
func realisticCall(b *testing.B) (dir string, found []foundRecord, cps []Checkpoint, tree *mappedHashes, verifier note.Verifier) {
	signer, verifier := testKey(b)
	dir = b.TempDir()
	text, err := configs.Files.ReadFile("policy.yaml")
	if err != nil {
		b.Fatal(err)
	}
	sha, err := ArchivePolicy(dir, text)
	if err != nil {
		b.Fatal(err)
	}
	type file struct {
		Name   string `json:"name"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	}
	type dataChange struct { // the fields cmd/gatekeeper writes for an import
		Change     string `json:"change"`
		DataKind   string `json:"data_kind"`
		List       string `json:"list"`
		Version    uint64 `json:"version"`
		Files      []file `json:"files"`
		SourceDate string `json:"source_date"`
		Count      int64  `json:"count"`
		Added      int64  `json:"added,omitempty"`
		Removed    int64  `json:"removed,omitempty"`
		By         string `json:"by"`
		Via        string `json:"via"`
		Host       string `json:"host"`
	}
	at := time.Date(2031, 1, 2, 6, 0, 0, 0, time.UTC)
	l, _ := open(b, dir, Options{Signer: signer})
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(l.AppendImport(at.AddDate(0, 0, -20), DataImport{Set: "blocks/blocks", Version: 31}, dataChange{Change: "import", DataKind: "blocks", List: "blocks", Version: 31,
		Files:      []file{{"/var/lib/gatekeeper/incoming/blocks-2030-12.csv", 31_870_214, strings.Repeat("7c", 32)}},
		SourceDate: "2030-12-01", Count: 587_212, By: "ops", Via: "cli through the admin socket (uid 1000, pid 4242)", Host: "gk-a.example.com"}))
	must(l.AppendEvent(KindPolicyLoaded, at, map[string]string{"policy_sha256": sha, "file": "(embedded) policy.yaml", "mode": "enforce", "trigger": "start"}))
	must(l.AppendImport(at.Add(time.Hour), DataImport{Set: "dnc/ftc", Version: 37}, dataChange{Change: "import", DataKind: "dnc", List: "ftc", Version: 37,
		Files:      []file{{"/var/lib/gatekeeper/incoming/ftc-2031-01-02.zip", 2_147_318_555, strings.Repeat("5b", 32)}},
		SourceDate: "2031-01-02", Count: 249_812_733, Added: 41_211, Removed: 38_002, By: "ops", Via: "cli through the admin socket (uid 1000, pid 4242)", Host: "gk-a.example.com"}))
	r := shippedRecord(0)
	r.PolicySHA256, r.Cites = sha, []uint64{37, 31} // as policy.Decision.DataVersions gives them
	// A production dialer's Call-ID (Asterisk's: 32 hex digits @ its address), not SIPp's short one:
	// the decision and the outcome each hold it.
	r.CallID = "5d1c1b3a3e8b4c1a9b2c3d4e5f6a7b8c@10.20.30.40"
	r.Trace = json.RawMessage(strings.NewReplacer(`"stale v1: ftc"`, `"stale v37: ftc"`,
		`"listed v1"`, `"listed v37"`, `"line_type v2: landline from block"`, `"line_type v31: landline from block"`).Replace(string(r.Trace)))
	l.Append(r)
	answered := r.Time.Add(4 * time.Second)
	must(l.AppendEvent(KindOutcome, answered.Add(52317*time.Millisecond), Outcome{CallID: r.CallID, Called: r.Called, Calling: r.Caller, CallerID: r.Caller,
		Dialer: r.Dialer, Campaign: r.Campaign, DialMode: r.DialMode, Status: 200, Disposition: "answered", Invited: Time{r.Time},
		Answered: &Time{answered}, Ended: Time{answered.Add(52317 * time.Millisecond)}, DurationS: 52.317, EndedBy: "dialer"}))
	must(l.Close())
	files, _ := logFiles(dir)
	found, err = findCall(dir, files, EvidenceQuery{CallID: r.CallID})
	if err != nil || len(found) != 4 || len(found[2].DataHashes) != 2 || found[3].DecisionHash == "" {
		b.Fatalf("the call's records: %d, %v", len(found), err)
	}

	const size = 10_000_000
	filler := sha256.Sum256([]byte("another record"))
	leaves := map[int64]tlog.Hash{}
	renamed := strings.NewReplacer() // the hashes the records had, to the ones they have renumbered
	var pairs []string
	for i, seq := range []uint64{2_000_017, 8_000_002, 9_000_000, 9_120_000} {
		renumber := func(line, _ []byte) []byte {
			line = []byte(renamed.Replace(string(line))) // the names, of records renumbered before
			return bytes.Replace(line, fmt.Appendf(nil, `"seq":%d,`, found[i].Seq), fmt.Appendf(nil, `"seq":%d,`, seq), 1)
		}
		was := found[i].Hash
		found[i].line = bytes.TrimSuffix(rehashed(renumber)(found[i].line, nil), []byte("\n"))
		if err := json.Unmarshal(found[i].line, &found[i].recordFields); err != nil {
			b.Fatal(err)
		}
		pairs = append(pairs, was, found[i].Hash)
		renamed = strings.NewReplacer(pairs...)
		leaves[int64(seq-1)] = sha256.Sum256(append(append([]byte{0}, found[i].line[:len(found[i].line)-hashSuffixLen]...), '}'))
	}
	synthetic := &sparseTree{leaves: leaves, filler: filler, memo: map[int64]tlog.Hash{}}
	treeDir := b.TempDir()
	f, err := os.Create(filepath.Join(treeDir, treeFileName))
	if err != nil {
		b.Fatal(err)
	}
	f.Truncate(tlog.StoredHashCount(size) * tlog.HashSize)
	for _, n := range []int64{9_130_000, size} {
		root, err := tlog.TreeHash(n, synthetic)
		if err != nil {
			b.Fatal(err)
		}
		// Signed when the log had n records: 5 s after the outcome, and 7.5
		// minutes later, at 2,000 records/s.
		cp, err := signCheckpoint(signer, n, root, answered.Add(52317*time.Millisecond).Add(time.Duration(n-9_120_000)*time.Second/2000))
		if err != nil {
			b.Fatal(err)
		}
		cps = append(cps, cp)
		// The proof reads only the records nothing names: the outcome.
		proveLeaves(n, []int64{int64(found[3].Seq - 1)}, synthetic) // to learn which hashes it reads
	}
	for idx, h := range synthetic.memo {
		f.WriteAt(h[:], idx*tlog.HashSize)
	}
	f.Close()
	if tree, err = openMappedHashes(treeDir); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tree.Close() })
	return dir, found, cps, tree, verifier
}

// sparseTree is a tlog.HashReader of a tree whose leaves are filler but
// those in leaves. It keeps every stored hash it was asked for in memo.
type sparseTree struct {
	leaves map[int64]tlog.Hash
	filler tlog.Hash
	memo   map[int64]tlog.Hash
}

func (s *sparseTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		level, n := tlog.SplitStoredHashIndex(idx)
		out[i] = s.subtree(level, n)
		s.memo[idx] = out[i]
	}
	return out, nil
}

// subtree is the hash of leaves [n<<level, (n+1)<<level).
func (s *sparseTree) subtree(level int, n int64) tlog.Hash {
	if level == 0 {
		if h, ok := s.leaves[n]; ok {
			return h
		}
		return s.filler
	}
	lo, hi := n<<level, (n+1)<<level
	holds := false
	for i := range s.leaves {
		holds = holds || lo <= i && i < hi
	}
	if !holds {
		h := s.filler
		for range level {
			h = tlog.NodeHash(h, h)
		}
		return h
	}
	return tlog.NodeHash(s.subtree(level-1, 2*n), s.subtree(level-1, 2*n+1))
}

// docsRoot is step 3 of "Checking a bundle by hand" in docs/audit.md,
// written from the text alone: the proofs Evidence writes must pass it.
func docsRoot(proof []byte, leaves map[int64]tlog.Hash, n int64) (tlog.Hash, bool) {
	var root func(lo, hi int64) tlog.Hash
	root = func(lo, hi int64) tlog.Hash {
		inside := false
		for i := range leaves {
			inside = inside || lo <= i && i < hi
		}
		if !inside {
			var h tlog.Hash
			if len(proof) >= 32 {
				copy(h[:], proof)
			}
			proof = proof[min(32, len(proof)):]
			return h
		}
		if hi-lo == 1 {
			return leaves[lo]
		}
		k := int64(1)
		for 2*k < hi-lo {
			k *= 2
		}
		l, r := root(lo, lo+k), root(lo+k, hi)
		return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
	}
	r := root(0, n)
	return r, len(proof) == 0
}

func TestDocsRootAgreesWithProofs(t *testing.T) {
	for _, records := range []int{1, 2, 3, 7, 8, 9, 33} {
		signer, verifier := testKey(t)
		dir := t.TempDir()
		l, _ := open(t, dir, Options{Signer: signer})
		for i := range records {
			r := fullRecord(i)
			r.CallID = fmt.Sprintf("call-%d", i%3) // a call's outcome may come many records later
			if i >= 3 {
				l.AppendEvent(KindOutcome, r.Time, map[string]any{"call_id": r.CallID})
				continue
			}
			l.Append(r)
		}
		l.Close()
		for i := range min(records, 3) {
			b, err := Evidence(dir, EvidenceQuery{CallID: fmt.Sprintf("call-%d", i)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			cp, _ := OpenCheckpoint([]byte(b.Checkpoint), nil)
			leaves := map[int64]tlog.Hash{}
			for _, line := range b.Records {
				var f recordFields
				json.Unmarshal([]byte(line), &f)
				leaves[int64(f.Seq-1)] = sha256.Sum256(append([]byte{0}, line...)) // a record of the bundle is its body
			}
			if root, ok := docsRoot(b.Proof, leaves, cp.Size); !ok || root != cp.Root {
				t.Fatalf("%d records, call %d: the documented check does not reach the root", records, i)
			}
			if _, err := VerifyEvidence(mustJSON(t, b), verifier); err != nil {
				t.Fatalf("%d records, call %d: %v", records, i, err)
			}
		}
	}
}

// oneCallLog writes a signed log of 20 other calls' decisions, then call
// "call-a"'s decision and its outcome (status 200), and returns its folder
// and the verifier of its checkpoints.
func oneCallLog(tb testing.TB) (string, note.Verifier) {
	tb.Helper()
	signer, verifier := testKey(tb)
	dir := tb.TempDir()
	l, _ := open(tb, dir, Options{Signer: signer})
	r := fullRecord(0)
	r.CallID = "call-a"
	for range 20 {
		l.Append(fullRecord(1))
	}
	l.Append(r)
	l.AppendEvent(KindOutcome, r.Time, map[string]any{"call_id": "call-a", "status": 200})
	if err := l.Close(); err != nil {
		tb.Fatal(err)
	}
	return dir, verifier
}

// A bundle of format 1 (gatekeeper-evidence/1: an RFC 6962 inclusion proof
// with each record), as the gatekeeper wrote them before, still verifies,
// and a proof of another record fails it.
func TestVerifyEvidenceFormat1(t *testing.T) {
	dir, verifier := oneCallLog(t)
	cs, _ := Checkpoints(dir, verifier)
	tree := treeHashes(t, dir)
	v1 := struct {
		Format     string         `json:"format"`
		CallID     string         `json:"call_id"`
		Checkpoint string         `json:"checkpoint"`
		Records    []provenRecord `json:"records"`
	}{Format: evidenceFormat1, CallID: "call-a", Checkpoint: string(cs[len(cs)-1].Note)}
	for i, line := range readLines(t, recordFile(dir))[20:] {
		proof, err := tlog.ProveRecord(22, int64(20+i), tree)
		if err != nil {
			t.Fatal(err)
		}
		v1.Records = append(v1.Records, provenRecord{Line: string(line), Proof: proof})
	}
	data, _ := json.MarshalIndent(v1, "", " ")
	if s, err := VerifyEvidence(data, verifier); err != nil || s.Records[KindDecision] != 1 || s.Records[KindOutcome] != 1 {
		t.Fatalf("VerifyEvidence of format 1 = %+v, %v", s, err)
	}
	v1.Records[0].Proof = v1.Records[1].Proof
	data, _ = json.Marshal(v1)
	if _, err := VerifyEvidence(data, verifier); err == nil || !strings.Contains(err.Error(), "not in the checkpoint's tree") {
		t.Fatalf("a format 1 proof of another record: %v", err)
	}
}

// A bundle of format 2 (gatekeeper-evidence/2: the lines with their hash
// fields as JSON strings, one multiproof of them all), as the gatekeeper
// wrote them before, still verifies, and an altered line fails it.
func TestVerifyEvidenceFormat2(t *testing.T) {
	dir, verifier := oneCallLog(t)
	b, err := Evidence(dir, EvidenceQuery{CallID: "call-a"}, verifier)
	if err != nil {
		t.Fatal(err)
	}
	v2 := struct {
		Format     string   `json:"format"`
		CallID     string   `json:"call_id"`
		Checkpoint string   `json:"checkpoint"`
		Records    []string `json:"records"`
		Proof      []byte   `json:"proof"`
	}{Format: evidenceFormat2, CallID: b.CallID, Checkpoint: b.Checkpoint, Proof: b.Proof} // nothing is named in this log
	for _, body := range b.Records {
		line, _ := withHashField([]byte(body))
		v2.Records = append(v2.Records, string(line))
	}
	data, _ := json.Marshal(v2)
	if s, err := VerifyEvidence(data, verifier); err != nil || s.Records[KindDecision] != 1 || s.Records[KindOutcome] != 1 || s.Named != 0 {
		t.Fatalf("VerifyEvidence of format 2 = %+v, %v", s, err)
	}
	v2.Records[1] = strings.Replace(v2.Records[1], `"status":200`, `"status":603`, 1)
	data, _ = json.Marshal(v2)
	if _, err := VerifyEvidence(data, verifier); err == nil || !strings.Contains(err.Error(), "the hash does not match") {
		t.Fatalf("an altered format 2 line: %v", err)
	}
}

// An allowed call's trace cites the lists that did not hold its number, one
// in version and several in versions: each import is in its bundle, and no
// other import is.
func TestEvidenceOfAnAllowedCallHoldsTheListsThatDidNotListIt(t *testing.T) {
	dir := t.TempDir()
	signer, _ := testKey(t)
	l, _ := open(t, dir, Options{Signer: signer})
	at := time.Date(2031, 1, 2, 3, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		list    string
		version int
	}{{"internal", 7}, {"ftc", 8}, {"state", 9}, {"unused", 10}} {
		if err := l.AppendEvent(KindDataChange, at, map[string]any{"change": "import", "list": c.list, "version": c.version}); err != nil {
			t.Fatal(err)
		}
	}
	r := fullRecord(0)
	r.CallID, r.Rule, r.Monitor, r.Would = "allowed", "default", false, Would{}
	r.Trace = json.RawMessage(`[{"rule":"internal-dnc","conditions":[{"kind":"listed","version":7}]},` +
		`{"rule":"national-dnc","conditions":[{"kind":"listed","versions":[8,9]}]}]`)
	l.Append(r)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := Evidence(dir, EvidenceQuery{CallID: "allowed"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var lists []string
	for _, rec := range b.Records {
		var f struct {
			Kind, List string
		}
		json.Unmarshal([]byte(rec), &f)
		if f.Kind == KindDataChange {
			lists = append(lists, f.List)
		}
	}
	if strings.Join(lists, ",") != "internal,ftc,state" {
		t.Errorf("the bundle holds the imports of %v; want internal, ftc and state", lists)
	}
}

// A bundle holds every record its records name: without the import its
// decision names, it proves the call but not the data it was decided on.
// A log that does not hold a named record gives no bundle.
func TestEvidenceHoldsTheRecordsNamed(t *testing.T) {
	signer, verifier := testKey(t)
	dir := t.TempDir()
	l, _ := open(t, dir, Options{Signer: signer})
	at := time.Date(2031, 1, 2, 3, 0, 0, 0, time.UTC)
	if err := l.AppendImport(at, DataImport{Set: "dnc/internal", Version: 7}, map[string]any{"change": "import", "list": "internal", "version": 7}); err != nil {
		t.Fatal(err)
	}
	r := fullRecord(0)
	r.CallID, r.Cites = "call-a", []uint64{7}
	l.Append(r)
	if err := l.AppendEvent(KindOutcome, at.Add(time.Minute), Outcome{CallID: "call-a", Called: r.Called, Status: 200, EndedBy: "dialer"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := Evidence(dir, EvidenceQuery{CallID: "call-a"}, verifier)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := VerifyEvidence(mustJSON(t, b), verifier); err != nil || s.Named != 2 {
		t.Fatalf("VerifyEvidence = %+v, %v; want the import and the decision proven by their names", s, err)
	}
	if !strings.Contains(b.Records[0], `"kind":"data_change"`) {
		t.Fatalf("the first record is not the import: %s", b.Records[0])
	}
	b.Records = b.Records[1:]
	if _, err := VerifyEvidence(mustJSON(t, b), verifier); err == nil || !strings.Contains(err.Error(), "record 1 (seq 2) names the record ") {
		t.Errorf("VerifyEvidence of a bundle without the import its decision names: %v", err)
	}

	if err := Redact(dir, 1, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := Evidence(dir, EvidenceQuery{CallID: "call-a"}, verifier); err == nil || !strings.Contains(err.Error(), "which the log does not hold") {
		t.Errorf("Evidence of a call whose named import was redacted: %v", err)
	}
}
