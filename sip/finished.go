package sip

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/emiago/sipgo/sip"
)

// On UDP a transaction outlives its final answer by 64*T1 (32 s) to deal
// with retransmissions (RFC 3261 §17.2.1, §17.2.2, §17.1.1.2; RFC 6026
// Timers L and M). sipgo v1.7.3 keeps the whole transaction for that time:
// both parsed messages with every header, about 17 KB a call over the four
// transactions of INVITE and BYE, so memory followed the calls made in the
// last 32 s rather than the calls in progress. What those 32 s need is
// small: the answer's bytes to send again for a retransmitted non-INVITE
// request, nothing for an INVITE retransmitted after its 2xx (it is
// absorbed), the ACK's bytes for a retransmitted non-2xx answer to an
// INVITE the proxy sent. The UDP socket the proxy gives sipgo (cancelTap)
// sees every datagram, so it keeps those bytes itself (finishedTxs) and
// sipgo's transactions end soon after their final answer (shortenTimers).
// A 2xx retransmitted by the carrier after its transaction ended is relayed
// statelessly (relayStray2xx), as the proxy already did; a non-INVITE
// answer retransmitted by the carrier reaches no transaction and is dropped,
// which is what Timer K's wait does.

// sipgoAfterFinal is how long sipgo's transactions live after their final
// answer: finishedTxs covers the rest of 64*T1.
const sipgoAfterFinal = 500 * time.Millisecond

// init shortens sipgo's waits after a final answer, before any transaction
// runs: the timers are sipgo's package variables.
func init() {
	sip.Timer_J = sipgoAfterFinal // non-INVITE server transaction, Completed
	sip.Timer_L = sipgoAfterFinal // INVITE server transaction, Accepted
	// The proxy's client transactions (clientTx) read these two: Timer M
	// after a 2xx to an INVITE, Timer D after any other final answer.
	sip.Timer_M = sipgoAfterFinal
	sip.Timer_D = sipgoAfterFinal
}

// finishedLifetime is how long a finished transaction is remembered:
// 64*T1, Timers J, L and M of RFC 3261 and RFC 6026, and Timer D's 32 s.
var finishedLifetime = 64 * sip.T1

// finishedTxs remembers finished UDP transactions by their RFC 3261
// §17.2.3 key (method, top Via branch and sent-by) for finishedLifetime.
type finishedTxs struct {
	mu    sync.Mutex
	byKey map[string]*finishedTx
	queue []*finishedTx // in order of expiry: every entry lives as long
}

type finishedTx struct {
	key     string
	resend  []byte // sent again for a retransmission; nil absorbs it
	awaits  bool   // a non-2xx answer to our INVITE, waiting for the ACK sipgo sends
	expires time.Time
}

// add remembers a finished transaction (a later add for the same key replaces it).
func (t *finishedTxs) add(key string, resend []byte, awaits bool) {
	now := time.Now()
	f := &finishedTx{key: key, resend: resend, awaits: awaits, expires: now.Add(finishedLifetime)}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byKey == nil {
		t.byKey = map[string]*finishedTx{}
	}
	for len(t.queue) > 0 && now.After(t.queue[0].expires) {
		old := t.queue[0]
		t.queue[0] = nil
		t.queue = t.queue[1:]
		if t.byKey[old.key] == old {
			delete(t.byKey, old.key)
		}
	}
	t.byKey[key] = f
	t.queue = append(t.queue, f)
}

// get returns the finished transaction of key, if it has not expired.
func (t *finishedTxs) get(key []byte) (*finishedTx, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.byKey[string(key)]
	if !ok || time.Now().After(f.expires) {
		return nil, false
	}
	return f, true
}

// fill sets the bytes a waiting entry sends again: a copy of msg, made
// only when an entry waits for it (the ACKs of 2xx answers are the many).
func (t *finishedTxs) fill(key []byte, msg []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f, ok := t.byKey[string(key)]; ok && f.awaits {
		f.resend, f.awaits = bytes.Clone(msg), false
	}
}

// noteSent records what a datagram the proxy sends finishes: a final answer
// to a request (its bytes, or nothing for a 2xx to an INVITE), or the ACK
// sipgo sends for a non-2xx answer to an INVITE.
func (t *finishedTxs) noteSent(msg []byte) {
	// Most datagrams are neither (a request forwarded, a provisional
	// answer): their start line says so without a scan.
	if status, answer := statusOf(msg); answer && status < 200 || !answer && !bytes.HasPrefix(msg, []byte("ACK ")) {
		return
	}
	w, ok := scanWire(msg)
	if !ok {
		return
	}
	var buf [keyBuffer]byte
	switch {
	case w.status >= 200 && string(w.method) == sip.INVITE.String():
		if w.status < 300 {
			t.add(string(w.key(buf[:0])), nil, false)
		}
		// A non-2xx final answer waits for its ACK in sipgo (Timers G, H, I).
	case w.status >= 200:
		t.add(string(w.key(buf[:0])), bytes.Clone(msg), false)
	case w.status == 0 && string(w.method) == sip.ACK.String():
		w.method = []byte(sip.INVITE)
		t.fill(w.key(buf[:0]), msg)
	}
}

// noteReceived handles a datagram that belongs to a finished transaction:
// it reports whether the datagram is taken, and returns the bytes to send
// back (nil for none). A non-2xx final answer to our INVITE starts an entry
// that the ACK fills.
func (t *finishedTxs) noteReceived(msg []byte) (taken bool, resend []byte) {
	// An ACK, a provisional answer and a 2xx are never taken: their start
	// line says so without a scan.
	if status, answer := statusOf(msg); answer && status < 300 || bytes.HasPrefix(msg, []byte("ACK ")) {
		return false, nil
	}
	w, ok := scanWire(msg)
	if !ok || string(w.method) == sip.ACK.String() {
		return false, nil
	}
	var buf [keyBuffer]byte
	key := w.key(buf[:0])
	f, ok := t.get(key)
	switch {
	case ok && !f.awaits && (w.status == 0 || w.status >= 300):
		return true, f.resend
	case !ok && w.status >= 300 && string(w.method) == sip.INVITE.String():
		t.add(string(key), nil, true)
	}
	return false, nil
}

// wire is what the matching of a datagram to a transaction needs, read
// from its bytes without parsing the message. Its slices alias the message.
type wire struct {
	status int    // 0 for a request
	method []byte // the request's method, or the CSeq method of an answer
	branch []byte // the top Via's branch, with the RFC 3261 magic cookie
	sentBy []byte // the top Via's sent-by
}

// keyBuffer holds a usual key on the stack: the table is asked with a key
// that needs no string of its own (the map lookup of string(bytes)
// allocates nothing), and only an entry added copies it.
const keyBuffer = 128

// key appends the transaction's key to dst.
func (w wire) key(dst []byte) []byte {
	dst = append(dst, w.method...)
	dst = append(dst, 0)
	dst = append(dst, w.branch...)
	dst = append(dst, 0)
	return append(dst, w.sentBy...)
}

// scanWire reads the start line, the top Via and the CSeq of a message. It
// reports false for anything it cannot read with certainty (folded header
// lines up to the last of those two, a branch without the magic cookie
// z9hG4bK): that message goes to sipgo as it is. It reads no further than
// it needs: both headers usually come in the first lines, and the lines
// after them cannot change what it reads.
func scanWire(msg []byte) (wire, bool) {
	var w wire
	start, lines, ok := headerLines(msg)
	if !ok {
		return w, false
	}
	if status, answer := statusOf(start); answer {
		if status == 0 {
			return w, false
		}
		w.status = status
	} else {
		method, _, ok := bytes.Cut(start, []byte(" "))
		if !ok {
			return w, false
		}
		w.method = method
	}
	var cseqMethod []byte
	ok = readHeaders(lines, "vc", func(name, value []byte) (done, ok bool) {
		switch {
		case w.branch == nil && (bytes.EqualFold(name, []byte("via")) || bytes.EqualFold(name, []byte("v"))):
			ok = readVia(value, &w)
		case cseqMethod == nil && bytes.EqualFold(name, []byte("cseq")):
			_, cseqMethod, ok = cseqWords(value)
		default:
			ok = true
		}
		return w.branch != nil && cseqMethod != nil, ok
	})
	if !ok {
		return w, false
	}
	if w.status > 0 {
		w.method = cseqMethod
	}
	return w, len(w.method) > 0 && len(w.branch) > 0
}

// dialogOf reads a request's Call-ID and CSeq number from its bytes; false
// when either is missing or not read with certainty (a folded line).
func dialogOf(msg []byte) (callID []byte, seq uint32, ok bool) {
	_, lines, ok := headerLines(msg)
	if !ok {
		return nil, 0, false
	}
	var number []byte
	ok = readHeaders(lines, "ci", func(name, value []byte) (done, ok bool) {
		switch {
		case callID == nil && (bytes.EqualFold(name, []byte("call-id")) || bytes.EqualFold(name, []byte("i"))):
			callID = bytes.TrimSpace(value)
		case number == nil && bytes.EqualFold(name, []byte("cseq")):
			number, _, _ = cseqWords(value)
		}
		return callID != nil && number != nil, true
	})
	n, err := strconv.ParseUint(string(number), 10, 32)
	return callID, uint32(n), ok && err == nil && len(callID) > 0
}

// headerLines splits a message into its start line and its header lines,
// each of them ending with CRLF; false without the empty line that ends
// the headers.
func headerLines(msg []byte) (start, lines []byte, ok bool) {
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, nil, false
	}
	start, lines, _ = bytes.Cut(msg[:end+2], []byte("\r\n"))
	return start, lines, true
}

// readHeaders hands read the name (trimmed) and the value of each header
// line whose name begins with one of initials (lower-case letters), until
// read has all it wants (done). It reports false when read does, and when
// a line up to there, or the one after it, is folded (a continuation would
// change what was read): such a message is not read by its bytes.
func readHeaders(lines []byte, initials string, read func(name, value []byte) (done, ok bool)) bool {
	for len(lines) > 0 {
		eol := bytes.Index(lines, []byte("\r\n"))
		line := lines[:eol]
		lines = lines[eol+2:]
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			return false
		}
		if strings.IndexByte(initials, line[0]|0x20) < 0 {
			continue
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found {
			continue
		}
		done, ok := read(bytes.TrimSpace(name), value)
		if !ok || len(lines) > 0 && (lines[0] == ' ' || lines[0] == '\t') {
			return false
		}
		if done {
			return true
		}
	}
	return true
}

// cseqWords reads a CSeq value: two words, the number and the method
// (bytes.Fields would allocate).
func cseqWords(value []byte) (number, method []byte, ok bool) {
	value = bytes.TrimSpace(value)
	gap := bytes.IndexAny(value, " \t")
	if gap < 0 {
		return nil, nil, false
	}
	method = bytes.TrimLeft(value[gap:], " \t")
	return value[:gap], method, !bytes.ContainsAny(method, " \t")
}

// statusOf reads the start line of msg: whether it is an answer, and then
// its status code, 0 when that is not three digits from 100 up.
func statusOf(msg []byte) (status int, answer bool) {
	code, answer := bytes.CutPrefix(msg, []byte("SIP/2.0 "))
	if !answer || len(code) < 3 {
		return 0, answer
	}
	n, err := strconv.Atoi(string(code[:3]))
	if err != nil || n < 100 {
		return 0, true
	}
	return n, true
}

// readVia reads the branch and sent-by of a Via header's first value.
func readVia(value []byte, w *wire) bool {
	value, _, _ = bytes.Cut(value, []byte(","))
	proto, params, more := bytes.Cut(value, []byte(";"))
	proto = bytes.TrimSpace(proto)
	if len(proto) == 0 {
		return false
	}
	w.sentBy = proto[bytes.LastIndexFunc(proto, unicode.IsSpace)+1:]
	for more {
		var p []byte
		p, params, more = bytes.Cut(params, []byte(";"))
		name, v, _ := bytes.Cut(p, []byte("="))
		if bytes.EqualFold(bytes.TrimSpace(name), []byte("branch")) {
			v = bytes.TrimSpace(v)
			if !bytes.HasPrefix(v, []byte(sip.RFC3261BranchMagicCookie)) {
				return false
			}
			w.branch = v
			return true
		}
	}
	return false
}
