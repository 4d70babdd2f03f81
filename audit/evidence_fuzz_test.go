package audit

import (
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// FuzzVerifyEvidence feeds VerifyEvidence bundles of the three formats and
// whatever the fuzzer makes of them. It never panics, and a bundle it passes
// holds only lines of the log, the call's decision among them: no input gets
// a record that was not logged past the check.
func FuzzVerifyEvidence(f *testing.F) {
	dir, verifier := oneCallLog(f)
	logged := map[string]bool{}
	for _, line := range readLines(f, recordFile(dir)) {
		logged[string(line)] = true
	}
	b, err := Evidence(dir, EvidenceQuery{CallID: "call-a"}, verifier)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := b.Encode()
	f.Add(good)
	f.Add([]byte(strings.Replace(string(good), `"status":200`, `"status":603`, 1)))
	v1 := map[string]any{"format": evidenceFormat1, "call_id": "call-a", "checkpoint": b.Checkpoint}
	var records []provenRecord
	for i, line := range b.Records {
		proof, err := tlog.ProveRecord(22, int64(20+i), treeHashes(f, dir))
		if err != nil {
			f.Fatal(err)
		}
		records = append(records, provenRecord{Line: line, Proof: proof})
	}
	v1["records"] = records
	old, _ := json.MarshalIndent(v1, "", " ")
	f.Add(old)
	v2 := map[string]any{"format": evidenceFormat2, "call_id": "call-a", "checkpoint": b.Checkpoint, "records": b.Records, "proof": b.Proof}
	old, _ = json.Marshal(v2)
	f.Add(old)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := VerifyEvidence(data, verifier)
		if err != nil {
			return
		}
		read, err := readBundle(data)
		if err != nil {
			t.Fatalf("VerifyEvidence passed a bundle readBundle refuses: %v", err)
		}
		for _, line := range read.lines {
			if read.format == EvidenceFormat {
				line, _ = withHashField(line)
			}
			if !logged[string(line)] {
				t.Fatalf("VerifyEvidence passed a line that is not in the log: %s", line)
			}
		}
		if !logged[s.Decision] || s.CallID != "call-a" || s.Records[KindDecision] != 1 {
			t.Fatalf("VerifyEvidence passed %+v", s)
		}
	})
}
