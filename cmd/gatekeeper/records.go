package main

import (
	"time"

	"github.com/gatekeeper-sip/gatekeeper/sip"
)

// recordTime writes a time in an audit record as the log writes its own
// time field: RFC 3339, UTC, always 9 decimals.
type recordTime time.Time

func (t recordTime) MarshalText() ([]byte, error) {
	return time.Time(t).UTC().AppendFormat(nil, "2006-01-02T15:04:05.000000000Z"), nil
}

// outcomeRecord is the fields of an outcome record (audit.KindOutcome): the
// call-detail record of a forwarded call, with what 16 CFR 310.5(a)(2)
// asks to keep of each telemarketing call (calling and called number, date,
// time, duration, disposition, seller, campaign, prerecorded or not, the
// caller ID sent) and how the call ended.
type outcomeRecord struct {
	CallID      string      `json:"call_id"`
	Called      string      `json:"called"`
	Calling     string      `json:"calling"`
	CallerID    string      `json:"caller_id"`
	CallerName  string      `json:"caller_name,omitempty"`
	Dialer      string      `json:"dialer"`
	Seller      string      `json:"seller"`
	Campaign    string      `json:"campaign"`
	DialMode    string      `json:"dial_mode"`
	Prerecorded bool        `json:"prerecorded"`
	Status      int         `json:"status"`
	Disposition string      `json:"disposition"`
	Invited     recordTime  `json:"invited"`
	Answered    *recordTime `json:"answered,omitempty"`
	Ended       recordTime  `json:"ended"`
	// DurationS is the connected time in seconds, answer to end, to the millisecond.
	DurationS float64 `json:"duration_s"`
	EndedBy   string  `json:"ended_by"`
}

func outcomeOf(e sip.CallEnd) outcomeRecord {
	c := e.Call
	r := outcomeRecord{
		CallID: c.CallID, Called: c.Called, Calling: e.Calling, CallerID: c.Caller, CallerName: e.CallerName,
		Dialer: c.Dialer, Seller: c.Seller, Campaign: c.Campaign, DialMode: dialMode(c.Automated), Prerecorded: c.Prerecorded,
		Status: e.Status, Disposition: disposition(e), Invited: recordTime(c.Time), Ended: recordTime(e.Ended),
		DurationS: e.Duration().Round(time.Millisecond).Seconds(), EndedBy: string(e.EndedBy),
	}
	if !e.Answered.IsZero() {
		at := recordTime(e.Answered)
		r.Answered = &at
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
