package audit

import (
	"bytes"
	"encoding/json"
	"iter"
	"strconv"
	"time"
)

// Query selects calls by their decision record; every field set must match,
// the zero value of a field matches anything.
type Query struct {
	// Since and Until bound the decision's time: Since <= time < Until.
	Since, Until time.Time
	// Called is the called number in E.164 (+12025550143); the caller of
	// Search normalizes what a person typed (internal/number.Normalize).
	Called string
	// Caller is the caller ID as the decision holds it (E.164 when it parsed).
	Caller string
	// CallID is the SIP Call-ID of the INVITE (RFC 3261 §8.1.1.4).
	CallID string
	// Decision is allow or reject.
	Decision string
	// Rule is the name of the rule that decided (default when none matched).
	Rule     string
	Campaign string
	Dialer   string
	// Seller is the seller of the call, as its decision or its outcome names it.
	Seller string
	// Status is the final SIP status the dialer got.
	Status int
	// Limit stops Search after that many calls; 0 is no limit.
	Limit int
	// Zone is where the days and hours of Stats begin; nil is UTC.
	Zone *time.Location
}

// Call is one call as the log tells it: its decision and, once a forwarded
// call ended, its outcome (nil for a rejected call, which has none, and for a
// call still up or whose outcome was not logged).
type Call struct {
	Decision Record
	// Seller is the seller the decision or else the outcome names.
	Seller  string
	Outcome *Outcome
	// DecisionLine and OutcomeLine are the records as stored, hash included:
	// each can be checked on its own (docs/audit.md).
	DecisionLine, OutcomeLine json.RawMessage
}

// MarshalJSON writes {"decision":<record as stored>,"outcome":<record as
// stored>}, outcome left out when there is none.
func (c Call) MarshalJSON() ([]byte, error) {
	b := append([]byte(`{"decision":`), c.DecisionLine...)
	if c.OutcomeLine != nil {
		b = append(append(b, `,"outcome":`...), c.OutcomeLine...)
	}
	return append(b, '}'), nil
}

// Outcome is what became of a forwarded call: the outcome record
// (KindOutcome) its end wrote, the call-detail record of 16 CFR 310.5(a)(2)
// (calling and called number, date, time, duration, disposition, seller,
// campaign, prerecorded or not, the caller ID sent) and how the call ended.
// The server writes it (Log.AppendEvent) and the readers read it.
type Outcome struct {
	// Time is when the call ended (as Ended); Time and Seq are the log's
	// own fields, left out when zero, so that AppendEvent can write an
	// Outcome (the log stamps both).
	Time   time.Time `json:"time,omitzero"`
	Seq    uint64    `json:"seq,omitzero"`
	CallID string    `json:"call_id"`
	Called string    `json:"called"`
	// Calling is the calling number as the INVITE's From URI gives it;
	// CallerID the caller ID sent (P-Asserted-Identity, else From).
	Calling    string `json:"calling"`
	CallerID   string `json:"caller_id"`
	CallerName string `json:"caller_name,omitempty"`
	Dialer     string `json:"dialer"`
	// Seller, Campaign and DialMode are absent when none (records of
	// builds up to 2026-11-29 wrote "").
	Seller   string `json:"seller,omitempty"`
	Campaign string `json:"campaign,omitempty"`
	DialMode string `json:"dial_mode,omitempty"`
	// Prerecorded is true when the call said it plays a prerecorded or
	// artificial voice; absent when false.
	Prerecorded bool `json:"prerecorded,omitempty"`
	Status      int  `json:"status"`
	// Disposition is answered, busy, no-answer, cancelled, rejected or failed.
	Disposition string `json:"disposition"`
	// Invited is when the INVITE arrived (the decision's time), Answered
	// when the carrier's 2xx was relayed (nil when never), Ended when the
	// call ended. The log leaves ended out of a record whose time it is
	// (every record of builds since 2026-11-29: 41 bytes each) and
	// UnmarshalJSON reads it back from time.
	Invited  Time  `json:"invited"`
	Answered *Time `json:"answered,omitempty"`
	Ended    Time  `json:"ended,omitzero"`
	// DurationS is the connected time in seconds, answer to end, to the millisecond.
	DurationS float64 `json:"duration_s"`
	// EndedBy is dialer, carrier, cancel, timeout or gatekeeper.
	EndedBy string `json:"ended_by"`
	// Media is what the call's media showed about the abandoned-call rule,
	// when the gatekeeper anchored it; nil when it did not.
	Media *MediaEvidence `json:"media,omitempty"`
}

// MediaEvidence is an anchored call's evidence for the abandoned-call rule
// (16 CFR 310.4(b)(1)(iv), 47 CFR 64.1200(a)(7)): a call is abandoned when
// a person answers and no live agent speaks within 2 seconds of the end
// of their greeting. Its times are measured from the answer (Outcome.
// Answered) on; a time not heard is absent.
type MediaEvidence struct {
	// Verdict is not_live (no greeting: not a live-answered call),
	// connected, abandoned, or abandoned_safe_harbor (abandoned, and the
	// campaign's recorded message played, 16 CFR 310.4(b)(4)(iii)).
	Verdict string `json:"verdict"`
	// GreetingStart and GreetingEnd bound the called person's greeting on
	// the carrier-to-dialer stream; AgentSpeech is the first live speech on
	// the dialer-to-carrier stream.
	GreetingStart Time `json:"greeting_start,omitzero"`
	GreetingEnd   Time `json:"greeting_end,omitzero"`
	AgentSpeech   Time `json:"agent_speech,omitzero"`
	// GapMS is AgentSpeech - GreetingEnd in milliseconds (without agent
	// speech, the greeting's end to the call's); absent without a greeting.
	GapMS *int64 `json:"gap_ms,omitempty"`
	// AgentSignal is when the dialer said an agent was connected (its
	// configured header or INFO), absent without one; Disagreement says how
	// the media contradicted it.
	AgentSignal  Time   `json:"agent_signal,omitzero"`
	Disagreement string `json:"disagreement,omitempty"`
}

// UnmarshalJSON reads an outcome record; one without ended ended at its time.
func (o *Outcome) UnmarshalJSON(b []byte) error {
	type plain Outcome // the same fields, without this method
	if err := json.Unmarshal(b, (*plain)(o)); err != nil {
		return err
	}
	if o.Ended.IsZero() {
		o.Ended = Time{o.Time}
	}
	return nil
}

// MarshalJSON writes the outcome as its record holds it, field for field
// in the order and with the names of its json tags; by hand it costs a
// fraction of encoding/json's reflection, which one record per call at
// 1,000 calls/s made 3 % of the server's CPU.
func (o Outcome) MarshalJSON() ([]byte, error) { return o.appendJSON(nil) }

func (o Outcome) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	if !o.Time.IsZero() {
		t, err := o.Time.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b = append(append(b, `"time":`...), t...)
		b = append(b, ',')
	}
	if o.Seq != 0 {
		b = strconv.AppendUint(append(b, `"seq":`...), o.Seq, 10)
		b = append(b, ',')
	}
	b = appendString(append(b, `"call_id":`...), o.CallID)
	b = appendField(b, "called", o.Called)
	b = appendField(b, "calling", o.Calling)
	b = appendField(b, "caller_id", o.CallerID)
	if o.CallerName != "" {
		b = appendField(b, "caller_name", o.CallerName)
	}
	b = appendField(b, "dialer", o.Dialer)
	b = appendNonEmpty(b, "seller", o.Seller)
	b = appendNonEmpty(b, "campaign", o.Campaign)
	b = appendNonEmpty(b, "dial_mode", o.DialMode)
	if o.Prerecorded {
		b = append(b, `,"prerecorded":true`...)
	}
	b = strconv.AppendInt(append(b, `,"status":`...), int64(o.Status), 10)
	b = appendField(b, "disposition", o.Disposition)
	b = appendTime(append(b, `,"invited":`...), o.Invited)
	if o.Answered != nil {
		b = appendTime(append(b, `,"answered":`...), *o.Answered)
	}
	if !o.Ended.IsZero() {
		b = appendTime(append(b, `,"ended":`...), o.Ended)
	}
	b = appendFloat(append(b, `,"duration_s":`...), o.DurationS)
	b = appendField(b, "ended_by", o.EndedBy)
	if o.Media != nil { // anchored calls only
		m, err := json.Marshal(o.Media)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"media":`...), m...)
	}
	return append(b, '}'), nil
}

// outcomeHorizon is how long after its decision a call's outcome may come:
// a call up for 12 hours is ended by the gatekeeper (docs/audit.md), plus
// the INVITE transaction's Timer C.
const outcomeHorizon = 13 * time.Hour

// Search returns the calls whose decision matches q, in the log's order
// (seq), each joined with its outcome. It reads dir as a running server
// leaves it or as copied elsewhere. A number or Call-ID is looked up in the
// index of each complete file (index.go); a missing one is built, and saved
// when dir takes it (nothing else is written). Other filters read the
// files whole. The sequence ends early with the error that stopped it.
func Search(dir string, q Query) iter.Seq2[Call, error] {
	return func(yield func(Call, error) bool) {
		s := newSearch(q)
		stopped := false
		emit := func(c Call) bool {
			s.emitted++
			stopped = !yield(c, nil) || s.emitted == q.Limit
			return !stopped
		}
		err := eachCandidate(dir, q, s.past, func(line []byte) bool {
			return s.line(line, emit)
		})
		if stopped {
			return
		}
		if err != nil {
			yield(Call{}, err)
			return
		}
		s.flush(emit)
	}
}

// search joins decisions with their outcomes and keeps the calls in seq
// order: a call waits in pending until its outcome comes or cannot come.
type search struct {
	q       Query
	needles [][]byte
	since   []byte // q.Since in the records' time layout, nil when open
	until   []byte
	pending []*Call
	waiting map[string]*Call // call_id -> an allowed call without its outcome
	emitted int
	// last is the time of the latest record read.
	last time.Time
}

func newSearch(q Query) *search {
	s := &search{q: q, waiting: map[string]*Call{}}
	s.needles = q.needles()
	if !q.Since.IsZero() {
		s.since = q.Since.UTC().AppendFormat(nil, timeLayout)
	}
	if !q.Until.IsZero() {
		s.until = q.Until.UTC().AppendFormat(nil, timeLayout)
	}
	return s
}

// needles are byte strings every matching decision line contains: a cheap
// test before the line is decoded, which decides.
func (q Query) needles() [][]byte {
	var n [][]byte
	add := func(name, value string) {
		if value != "" {
			n = append(n, appendField(nil, name, value)[1:])
		}
	}
	add("called", q.Called)
	add("call_id", q.CallID)
	add("caller", q.Caller)
	add("decision", q.Decision)
	add("rule", q.Rule)
	add("campaign", q.Campaign)
	add("dialer", q.Dialer)
	if q.Status != 0 {
		n = append(n, []byte(`"status":`+strconv.Itoa(q.Status)))
	}
	return n
}

// timePrefix is where every record's time stands: {"time":"...".
const timePrefix = `{"time":"`

// recordTime returns the time field of a line in the records' layout, or nil.
func recordTime(line []byte) []byte {
	if len(line) < len(timePrefix)+len(timeLayout) || !bytes.HasPrefix(line, []byte(timePrefix)) {
		return nil
	}
	return line[len(timePrefix) : len(timePrefix)+len(timeLayout)]
}

// line takes one line of the log; false stops the reading.
func (s *search) line(line []byte, emit func(Call) bool) bool {
	at := recordTime(line)
	if at == nil {
		return true // a redacted stub or a line cut short by a crash
	}
	if t, err := time.Parse(timeLayout, string(at)); err == nil && t.After(s.last) {
		s.last = t
	}
	switch {
	case bytes.Contains(line, []byte(`"kind":"`+KindDecision+`"`)):
		if !s.wantTime(at) || !s.hasNeedles(line) {
			break
		}
		var d Record
		if json.Unmarshal(line, &d) != nil || !s.matches(&d) {
			break
		}
		c := &Call{Decision: d, Seller: d.Seller, DecisionLine: bytes.Clone(line)}
		s.pending = append(s.pending, c)
		if c.Decision.Decision == "allow" {
			s.waiting[c.Decision.CallID] = c
		}
	case len(s.waiting) > 0 && bytes.Contains(line, []byte(`"kind":"`+KindOutcome+`"`)):
		var o Outcome
		if json.Unmarshal(line, &o) != nil {
			break
		}
		if c := s.waiting[o.CallID]; c != nil {
			c.Outcome, c.OutcomeLine = &o, bytes.Clone(line)
			if c.Seller == "" {
				c.Seller = o.Seller
			}
			delete(s.waiting, o.CallID)
		}
	}
	if !s.release(emit, false) {
		return false
	}
	// Past Until, reading goes on only for the outcomes still awaited.
	return s.until == nil || bytes.Compare(at, s.until) < 0 || len(s.pending) > 0
}

// past says whether files of day and later can hold nothing the search
// needs: no decision before Until, nor an outcome a call waits for.
func (s *search) past(day int) bool {
	if s.until == nil || day <= dayOf(s.q.Until)+1 {
		return false
	}
	return len(s.pending) == 0 || day > dayOf(s.q.Until.Add(outcomeHorizon))+1
}

func (s *search) wantTime(at []byte) bool {
	return (s.since == nil || bytes.Compare(at, s.since) >= 0) && (s.until == nil || bytes.Compare(at, s.until) < 0)
}

func (s *search) hasNeedles(line []byte) bool {
	for _, n := range s.needles {
		if !bytes.Contains(line, n) {
			return false
		}
	}
	return true
}

// matches tests a decision against every filter but Seller, which may
// need the outcome.
func (s *search) matches(r *Record) bool {
	q := s.q
	eq := func(want, got string) bool { return want == "" || want == got }
	return eq(q.Called, r.Called) && eq(q.CallID, r.CallID) && eq(q.Caller, r.Caller) &&
		eq(q.Decision, r.Decision) && eq(q.Rule, r.Rule) && eq(q.Campaign, r.Campaign) &&
		eq(q.Dialer, r.Dialer) && (q.Status == 0 || q.Status == r.Status)
}

// release emits the calls at the head of pending that are complete: an
// outcome came, none will (not allowed), or it is past the horizon; all of
// them when final. False when emit wants no more.
func (s *search) release(emit func(Call) bool, final bool) bool {
	n := 0
	for _, c := range s.pending {
		if !final && s.waiting[c.Decision.CallID] == c && s.last.Sub(c.Decision.Time) < outcomeHorizon {
			break
		}
		n++
		if s.waiting[c.Decision.CallID] == c {
			delete(s.waiting, c.Decision.CallID)
		}
		if s.q.Seller != "" && c.Seller != s.q.Seller {
			continue
		}
		if !emit(*c) {
			return false
		}
	}
	s.pending = s.pending[n:]
	return true
}

func (s *search) flush(emit func(Call) bool) { s.release(emit, true) }
