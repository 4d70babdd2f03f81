package main

import (
	"os"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/audit"
	"github.com/gatekeeper-sip/gatekeeper/registry"
	"github.com/gatekeeper-sip/gatekeeper/sip"
)

// outcomeOf is the outcome record (audit.KindOutcome) of a forwarded call that ended.
func outcomeOf(e sip.CallEnd) audit.Outcome {
	c := e.Call
	r := audit.Outcome{
		CallID: c.CallID, Called: c.Called, Calling: e.Calling, CallerID: c.Caller, CallerName: e.CallerName,
		Dialer: c.Dialer, Seller: c.Seller, Campaign: c.Campaign, DialMode: dialMode(c.Automated), Prerecorded: c.Prerecorded,
		Status: e.Status, Disposition: disposition(e), Invited: audit.Time{Time: c.Time}, Ended: audit.Time{Time: e.Ended},
		DurationS: e.Duration().Round(time.Millisecond).Seconds(), EndedBy: string(e.EndedBy),
	}
	if !e.Answered.IsZero() {
		r.Answered = &audit.Time{Time: e.Answered}
	}
	if v := e.Media; v != nil {
		r.Media = &audit.MediaEvidence{Verdict: string(v.Outcome), GreetingStart: audit.Time{Time: v.GreetingStart},
			GreetingEnd: audit.Time{Time: v.GreetingEnd}, AgentSpeech: audit.Time{Time: v.AgentSpeech},
			AgentSignal: audit.Time{Time: v.AgentSignal}, Disagreement: v.Disagreement}
		if !v.GreetingEnd.IsZero() {
			gap := v.Gap.Milliseconds()
			r.Media.GapMS = &gap
		}
	}
	return r
}

// disposition is what became of the call, in the terms of a call-detail
// record: answered, busy, no-answer, cancelled (by the dialer before an
// answer), rejected (a final 4xx or 6xx from the carrier) or failed (a 5xx,
// or the gatekeeper could not carry it on).
func disposition(e sip.CallEnd) string {
	switch {
	case !e.Answered.IsZero():
		return "answered"
	case e.EndedBy == sip.EndedByCancel:
		return "cancelled"
	case e.EndedBy == sip.EndedByTimeout || e.Status == 408 || e.Status == 480:
		return "no-answer"
	case e.Status == 486 || e.Status == 600:
		return "busy"
	case e.EndedBy == sip.EndedByGatekeeper || e.Status >= 500 && e.Status < 600:
		return "failed"
	default:
		return "rejected"
	}
}

func dialMode(automated bool) string {
	if automated {
		return "automated"
	}
	return "manual"
}

// dataChangeRecord is the fields of a data_change record
// (audit.KindDataChange): an import, or a live change of one number.
// Version is the import id decisions' traces cite: the new version for an
// import, the version in force for a live change.
type dataChangeRecord struct {
	// Change is import or delta (a change list), or for one number dnc add,
	// dnc remove, consent add or consent revoke.
	Change   string `json:"change"`
	DataKind string `json:"data_kind"` // dnc or a data set's kind (blocks, consent, ...)
	List     string `json:"list"`      // the list or data set
	Version  uint64 `json:"version"`
	Number   string `json:"number,omitempty"` // E.164, for a change of one number
	// Files are the files imported, each with its size and SHA-256.
	Files      []changedFile `json:"files,omitempty"`
	SourceDate string        `json:"source_date,omitempty"` // YYYY-MM-DD the data is as of
	Count      int64         `json:"count,omitempty"`       // numbers or records the version holds
	Added      int64         `json:"added,omitempty"`       // a change list's additions
	Removed    int64         `json:"removed,omitempty"`
	Outcome    string        `json:"outcome,omitempty"` // a live change: listed, unlisted, ...
	Seller     string        `json:"seller,omitempty"`  // a consent change's scope
	Campaign   string        `json:"campaign,omitempty"`
	Consent    string        `json:"consent,omitempty"` // express or written, for consent add
	At         *audit.Time   `json:"at,omitempty"`      // a consent change's grant or revocation time
	Reason     string        `json:"reason,omitempty"`
	// Recovered says why an import's record was written at start (lostImportRecord).
	Recovered string `json:"recovered,omitempty"`
	By        string `json:"by,omitempty"` // the OS user who asked
	Via       string `json:"via"`          // cli, or the admin socket with the caller's uid and pid
	Host      string `json:"host"`
}

type changedFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// importChange is the record of an import of kind (dnc or a data set's).
func importChange(kind string, info registry.ListInfo, by, via string) dataChangeRecord {
	r := dataChangeRecord{Change: "import", DataKind: kind, List: info.Name, Version: info.Version, SourceDate: info.SourceDate,
		Count: info.Count, Added: info.Added, Removed: info.Removed, By: by, Via: via, Host: hostname()}
	if info.Delta {
		r.Change = "delta"
	}
	for _, f := range info.Sources {
		r.Files = append(r.Files, changedFile{Name: f.Name, Size: f.Size, SHA256: f.SHA256})
	}
	return r
}

// liveChanges are the records of live changes to a list whose version in force is version.
func liveChanges(version uint64, cs []registry.Change) []dataChangeRecord {
	rs := make([]dataChangeRecord, len(cs))
	for i, c := range cs {
		rs[i] = dataChangeRecord{Change: "dnc " + c.Action, DataKind: registry.KindDNC, List: c.List, Version: version, Number: c.Number,
			Outcome: c.Outcome, Reason: c.Reason, By: c.By, Via: c.Via, Host: hostname()}
	}
	return rs
}

// consentChange is the record of a live consent change, the consent data
// set's version being version.
func consentChange(version uint64, c registry.ConsentChange) dataChangeRecord {
	r := dataChangeRecord{Change: "consent " + c.Action, DataKind: registry.KindConsent, List: registry.KindConsent, Version: version,
		Number: c.Number, Seller: c.Seller, Campaign: c.Campaign, At: &audit.Time{Time: c.At}, Reason: c.Reason, By: c.By, Via: c.Via, Host: hostname()}
	if c.Record != nil {
		r.Consent = c.Record.Kind
	}
	return r
}

// hostname names this machine in records of changes: where they were made.
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}
