package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// namedFields are the names a record of the log gives, and its own hash.
type namedFields struct {
	Seq          uint64   `json:"seq"`
	CallID       string   `json:"call_id"`
	DataHashes   []string `json:"data_hashes"`
	DecisionHash string   `json:"decision_hash"`
	Hash         string   `json:"hash"`
}

func readNamed(t *testing.T, dir string) []namedFields {
	t.Helper()
	var out []namedFields
	for _, line := range readLines(t, recordFile(dir)) {
		var f namedFields
		if err := json.Unmarshal(line, &f); err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// The writer names, in a decision, the records of the imports its trace
// cites that it knows (the last two of each data set, across restarts by
// import-hashes.jsonl), in the order cited; in an outcome, the decision of
// its call if allowed and written since the writer started.
func TestWriterNamesRecords(t *testing.T) {
	dir := t.TempDir()
	signer, verifier := testKey(t)
	at := time.Date(2031, 1, 2, 3, 0, 0, 0, time.UTC)
	l, _ := open(t, dir, Options{Signer: signer})
	for v := range uint64(3) { // seq 1-3: versions 7, 8, 9 of one list; 7 is forgotten
		if err := l.AppendImport(at, DataImport{Set: "dnc/internal", Version: 7 + v}, map[string]any{"version": 7 + v}); err != nil {
			t.Fatal(err)
		}
	}
	decide := func(l *Log, callID, decision string, cites ...uint64) {
		r := fullRecord(0)
		r.CallID, r.Decision, r.Cites = callID, decision, cites
		l.Append(r)
	}
	ended := func(l *Log, callID string) {
		if err := l.AppendEvent(KindOutcome, at, Outcome{CallID: callID, Called: "+12025550143", Status: 200}); err != nil {
			t.Fatal(err)
		}
	}
	decide(l, "call-a", "allow", 9, 42, 7, 8) // seq 4
	ended(l, "call-a")                        // 5
	ended(l, "call-a")                        // 6: its decision was named once
	decide(l, "call-r", "reject", 8)          // 7
	ended(l, "call-r")                        // 8: a rejected call's decision is not named
	decide(l, "call-c", "allow")              // 9
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, _ = open(t, dir, Options{Signer: signer})
	ended(l, "call-c")              // 10: the decision was written before the restart
	decide(l, "call-d", "allow", 8) // 11: the imports' names outlive it
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, importHashesFile))
	l, _ = open(t, dir, Options{Signer: signer})
	decide(l, "call-e", "allow", 8) // 12: without the file, no name
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	rs := readNamed(t, dir)
	want := []struct {
		seq      int
		data     []string
		decision string
	}{
		{4, []string{rs[2].Hash, rs[1].Hash}, ""},
		{5, nil, rs[3].Hash},
		{6, nil, ""},
		{7, []string{rs[1].Hash}, ""},
		{8, nil, ""},
		{9, nil, ""},
		{10, nil, ""},
		{11, []string{rs[1].Hash}, ""},
		{12, nil, ""},
	}
	for _, w := range want {
		r := rs[w.seq-1]
		if !slices.Equal(r.DataHashes, w.data) || r.DecisionHash != w.decision {
			t.Errorf("record %d names %v and %q; want %v and %q", w.seq, r.DataHashes, r.DecisionHash, w.data, w.decision)
		}
	}

	// The bundles prove in the tree only the records nothing names: call-a's
	// its outcomes and the import of version 7 its trace cites (forgotten by
	// the writer), not its decision nor the imports of 8 and 9; call-c's,
	// whose outcome came after a restart, its decision too. They verify.
	for call, proven := range map[string][]uint64{"call-a": {1, 5, 6}, "call-c": {1, 9, 10}} {
		b, err := Evidence(dir, EvidenceQuery{CallID: call}, verifier)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyEvidence(mustJSON(t, b), verifier); err != nil {
			t.Fatalf("%s: %v", call, err)
		}
		if call == "call-a" && len(b.Records) != 6 {
			t.Errorf("call-a: %d records; want its decision, two outcomes and the imports of 7, 8 and 9", len(b.Records))
		}
		cp, _ := OpenCheckpoint([]byte(b.Checkpoint), nil)
		var indexes []int64
		var leaves []tlog.Hash
		for _, line := range b.Records {
			line, _ := withHashField([]byte(line))
			l, _ := parseLine(line)
			if slices.Contains(proven, l.seq) {
				indexes, leaves = append(indexes, int64(l.seq-1)), append(leaves, l.leaf())
			}
		}
		if root, err := rootOf(cp.Size, indexes, leaves, b.Proof); err != nil || root != cp.Root {
			t.Errorf("%s: the proof is not that of records %v alone: %v", call, proven, err)
		}
	}
}

// import-hashes.jsonl is derived and may be altered: a name in it whose
// record is not that leaf of the tree (a record made up, another record's
// seq, a line of a build that wrote no seq) is dropped at start with a
// warning, so that no decision names a record the log does not hold and no
// bundle proves one by that name.
func TestWriterNamesOnlyRecordsOfTheTree(t *testing.T) {
	dir := t.TempDir()
	signer, verifier := testKey(t)
	at := time.Date(2031, 1, 2, 3, 0, 0, 0, time.UTC)
	l, _ := open(t, dir, Options{Signer: signer})
	for _, set := range []string{"dnc/ftc", "dnc/internal", "blocks/blocks"} { // seq 1-3: versions 1-3
		if err := l.AppendImport(at, DataImport{Set: set, Version: uint64(len(set))}, map[string]any{"change": "import", "data_set": set}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rs := readNamed(t, dir)
	made := hexHash(tlog.RecordHash([]byte(`{"time":"2031-01-02T03:00:00.000000000Z","seq":1,"kind":"data_change","change":"import","data_set":"dnc/ftc","count":0}`)))
	lines := fmt.Sprintf(`{"data_set":"dnc/ftc","version":7,"seq":1,"hash":%q}
{"data_set":"dnc/internal","version":12,"seq":3,"hash":%q}
{"data_set":"blocks/blocks","version":13,"hash":%q}
`, made[:], rs[1].Hash, rs[2].Hash)
	if err := os.WriteFile(filepath.Join(dir, importHashesFile), []byte(lines), 0o640); err != nil {
		t.Fatal(err)
	}
	l, logs := open(t, dir, Options{Signer: signer})
	r := fullRecord(0)
	r.CallID, r.Cites = "call-a", []uint64{7, 12, 13}
	l.Append(r)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d := readNamed(t, dir)[3]; d.DataHashes != nil {
		t.Errorf("the decision names %v: records the import hashes' file gave wrongly", d.DataHashes)
	}
	if got := strings.Count(logs.String(), "an import hash is not the hash of its record in the tree"); got != 3 {
		t.Errorf("%d warnings; want one for each wrong name:\n%s", got, logs)
	}
	if _, err := Evidence(dir, EvidenceQuery{CallID: "call-a"}, verifier); err != nil {
		t.Errorf("Evidence: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, importHashesFile)); len(data) != 0 {
		t.Errorf("%s still holds the wrong names:\n%s", importHashesFile, data)
	}
}

// ImportRecorded tells, from the import names, which import versions the
// log held when it opened, and says when it cannot tell: the names lost
// while the log holds records.
func TestImportRecorded(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2031, 1, 2, 3, 0, 0, 0, time.UTC)
	l, _ := open(t, dir, Options{})
	if recorded, known := l.ImportRecorded(7); recorded || !known {
		t.Errorf("a new log: recorded %v, known %v; want false, true", recorded, known)
	}
	if err := l.AppendImport(at, DataImport{Set: "dnc/ftc", Version: 7}, map[string]any{"change": "import"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, _ = open(t, dir, Options{})
	if recorded, known := l.ImportRecorded(7); !recorded || !known {
		t.Errorf("version 7 recorded: recorded %v, known %v", recorded, known)
	}
	if recorded, _ := l.ImportRecorded(8); recorded {
		t.Error("version 8 is said to be recorded")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, importHashesFile)); err != nil {
		t.Fatal(err)
	}
	l, _ = open(t, dir, Options{})
	defer l.Close()
	if _, known := l.ImportRecorded(7); known {
		t.Errorf("without %s, a log of records says it knows its imports", importHashesFile)
	}
}
