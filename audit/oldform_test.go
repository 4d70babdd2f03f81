package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// oldFormLog writes records as older builds wrote them: every
// field at its zero value too ("prev":"" in record 1, "prerecorded":false,
// "monitor":false) and a trace that says "matched":false and "holds":false.
// Each line gets its leaf hash and the next one's prev.
func oldFormLog(t *testing.T) string {
	t.Helper()
	bodies := []string{
		`{"time":"2031-05-01T12:00:00.000000000Z","seq":1,"kind":"decision","call_id":"old-1","decision":"allow","rule":"default","status":200,` +
			`"called":"+12025550143","caller":"+13125550100","dialer":"predictive","campaign":"spring","seller":"","source":"127.0.0.1:5080","mode":"enforce",` +
			`"dial_mode":"automated","prerecorded":false,"monitor":false,` +
			`"trace":[{"rule":"internal-dnc","matched":false,"conditions":[{"kind":"listed","holds":false}]},` +
			`{"rule":"state-hours","matched":false,"conditions":[{"kind":"outside_hours","holds":false,"value":"no rule for the state"}]}],` +
			`"policy_sha256":"9f86","version":"v0.1.0","salt":"00000000000000000000000000000001","prev":""}`,
		`{"time":"2031-05-01T12:01:00.000000000Z","seq":2,"kind":"outcome","call_id":"old-1","called":"+12025550143","calling":"3125550100",` +
			`"caller_id":"+13125550100","dialer":"predictive","seller":"","campaign":"spring","dial_mode":"automated","prerecorded":false,"status":200,` +
			`"disposition":"answered","invited":"2031-05-01T12:00:00.000000000Z","answered":"2031-05-01T12:00:08.000000000Z",` +
			`"ended":"2031-05-01T12:01:00.000000000Z","duration_s":52,"ended_by":"dialer","salt":"00000000000000000000000000000002","prev":"%s"}`,
		`{"time":"2031-05-01T12:02:00.000000000Z","seq":3,"kind":"decision","call_id":"old-2","decision":"reject","rule":"internal-dnc","status":603,` +
			`"reason":"Decline","called":"+12025550144","caller":"+13125550100","dialer":"predictive","campaign":"spring","seller":"acme","source":"127.0.0.1:5080",` +
			`"mode":"enforce","prerecorded":false,"monitor":false,` +
			`"trace":[{"rule":"internal-dnc","matched":true,"conditions":[{"kind":"listed","holds":true,"value":"internal","version":7}]}],` +
			`"policy_sha256":"9f86","version":"v0.1.0","salt":"00000000000000000000000000000003","prev":"%s"}`,
	}
	var file strings.Builder
	prev := ""
	for _, body := range bodies {
		body = strings.Replace(body, "%s", prev, 1)
		sum := sha256.Sum256(append([]byte{0}, body...))
		prev = hex.EncodeToString(sum[:])
		file.WriteString(body[:len(body)-1] + `,"hash":"` + prev + "\"}\n")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "decisions-2031-05-01.jsonl"), []byte(file.String()), 0o640); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A log written before records left out their zero values still verifies
// and reads: absent and false are the same to every reader.
func TestOldFormRecordsVerifyAndRead(t *testing.T) {
	dir := oldFormLog(t)
	if r, err := Verify(dir, VerifyOptions{}); err != nil || r.Records != 3 {
		t.Fatalf("Verify = %+v, %v", r, err)
	}
	calls := searchAll(t, dir, Query{})
	if len(calls) != 2 {
		t.Fatalf("%d calls, want 2", len(calls))
	}
	allowed, rejected := calls[0], calls[1]
	if allowed.Decision.Prerecorded || allowed.Decision.Monitor || allowed.Outcome == nil || allowed.Outcome.Prerecorded ||
		allowed.Outcome.Answered == nil || allowed.Outcome.DurationS != 52 || rejected.Decision.Seller != "acme" || rejected.Outcome != nil {
		t.Errorf("read %+v / %+v", allowed, rejected)
	}
	var trace []struct {
		Matched    bool `json:"matched"`
		Conditions []struct {
			Holds bool `json:"holds"`
		} `json:"conditions"`
	}
	if err := json.Unmarshal(rejected.Decision.Trace, &trace); err != nil || !trace[0].Matched || !trace[0].Conditions[0].Holds {
		t.Errorf("trace %s: %+v, %v", rejected.Decision.Trace, trace, err)
	}
	rows, err := Stats(dir, Query{}, []string{"seller"})
	if err != nil || len(rows) != 2 || rows[0].Calls != 1 || rows[0].Monitored != 0 || rows[1].Group[0] != "acme" || rows[1].Rejected != 1 {
		t.Errorf("Stats = %+v, %v", rows, err)
	}
}

// A record of today's form leaves the zero values out and names no prev
// (seq and the tree prove the order); both verify.
func TestNewFormOmitsZeroValues(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{Uncompressed: true})
	r := shippedRecord(0)
	l.Append(r)
	l.Append(r)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(logFile{day: 20310102}.path(dir))
	if err != nil {
		t.Fatal(err)
	}
	first, second, _ := strings.Cut(string(data), "\n")
	for _, absent := range []string{`"prev":`, `"prerecorded":`, `"monitor":`, `"seller":`, `"matched":`, `"holds":false`} {
		if strings.Contains(first, absent) || strings.Contains(second, absent) {
			t.Errorf("a record holds %s: %s", absent, data)
		}
	}
	if v, err := Verify(dir, VerifyOptions{}); err != nil || v.Records != 2 {
		t.Errorf("Verify = %+v, %v", v, err)
	}
}

// Records of older builds keep their chain: a prev that is not the record
// before's hash fails verify, even when the record's own hash was made anew.
// A log that goes on in today's form after them verifies whole.
func TestOldFormPrevChecked(t *testing.T) {
	dir := oldFormLog(t)
	path := logFile{day: 20310501}.path(dir)
	replace := rehashed(func(line, _ []byte) []byte {
		at := bytes.LastIndex(line, []byte(prevField)) + len(prevField)
		line[at] ^= 1
		return line
	})
	editLine(t, path, 3, func(line []byte) []byte { return replace(line, nil) })
	if _, err := Verify(dir, VerifyOptions{}); err == nil || !strings.HasPrefix(err.Error(), path+":3: prev is not the hash of the record at "+path+":2") {
		t.Fatalf("Verify of a replaced old record: %v", err)
	}

	dir = oldFormLog(t)
	l, _ := open(t, dir, Options{Uncompressed: true})
	l.Append(shippedRecord(0))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if r, err := Verify(dir, VerifyOptions{}); err != nil || r.Records != 4 {
		t.Fatalf("Verify of old records and a new one = %+v, %v", r, err)
	}
}
