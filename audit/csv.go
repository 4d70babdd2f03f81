package audit

import (
	"strconv"
	"strings"
	"time"
)

// CSVColumns are the columns of CSVRow: the decision's fields, then the
// outcome's (empty for a call without one), then the decision's hash.
var CSVColumns = []string{"time", "seq", "call_id", "called", "caller", "decision", "rule", "status", "reason", "mode",
	"monitor", "dialer", "campaign", "seller", "source", "policy_sha256", "disposition", "answered", "ended", "duration_s", "ended_by", "hash"}

// CSVRow is the call as a row of CSVColumns, times in RFC 3339 in zone. A
// field that a spreadsheet would run as a formula (CSV injection: it starts
// with = or @, or with + or - and is no number) gets a leading apostrophe:
// caller IDs and campaigns come from whoever sends an INVITE. Numbers such
// as +12025550143 stay as they are.
func (c Call) CSVRow(zone *time.Location) []string {
	d := &c.Decision
	row := []string{d.Time.In(zone).Format(time.RFC3339Nano), strconv.FormatUint(d.Seq, 10), d.CallID, d.Called, d.Caller,
		d.Decision, d.Rule, strconv.Itoa(d.Status), d.Reason, d.Mode, strconv.FormatBool(d.Monitor), d.Dialer, d.Campaign,
		c.Seller, d.Source, d.PolicySHA256, "", "", "", "", "", d.Hash}
	if o := c.Outcome; o != nil {
		row[16], row[18], row[19], row[20] = o.Disposition, o.Ended.In(zone).Format(time.RFC3339Nano),
			strconv.FormatFloat(o.DurationS, 'f', -1, 64), o.EndedBy
		if o.Answered != nil {
			row[17] = o.Answered.In(zone).Format(time.RFC3339Nano)
		}
	}
	for i, f := range row {
		row[i] = noFormula(f)
	}
	return row
}

// noFormula prefixes a field a spreadsheet would take for a formula with an
// apostrophe (OWASP's advice against CSV injection).
func noFormula(f string) string {
	if f == "" || !strings.ContainsRune("=+-@\t\r", rune(f[0])) {
		return f
	}
	if _, err := strconv.ParseFloat(f, 64); err == nil && f[0] != '=' && f[0] != '@' {
		return f
	}
	return "'" + f
}
