package sip

import (
	"strings"
	"testing"
	"time"
)

// afterSipgo is a wait past the end of sipgo's own transactions: what
// arrives later is answered from finishedTxs alone.
const afterSipgo = sipgoAfterFinal + 500*time.Millisecond

// uasAnswer is answer with a Contact, as a UAS answers (RFC 3261 §8.2.6.2).
func uasAnswer(msg, status string) string {
	return answer(msg, status, "Contact: <sip:127.0.0.1>\n")
}

// establishVia is establish with the carrier answering as a UAS does.
func establishVia(t *testing.T, r *rig, callID string) (carrierInvite string) {
	t.Helper()
	inv := r.placeCall(t, invite(callID, callID))
	send(t, r.carrier, r.proxyAddr(), uasAnswer(inv, "200 OK"))
	await(t, r.dialer, time.Second, "SIP/2.0 200")
	return inv
}

// An INVITE retransmitted after its 2xx is absorbed for 64*T1 (RFC 6026
// Timer L): no second decision, nothing to the carrier, nothing back.
func TestInviteRetransmittedAfterItsAnswerIsAbsorbed(t *testing.T) {
	r := newRig(t, allowAll{})
	establishVia(t, r, "fin-inv")
	time.Sleep(afterSipgo)
	send(t, r.dialer, r.proxyAddr(), invite("fin-inv", "fin-inv"))
	if got := recv(r.carrier, 500*time.Millisecond); len(got) != 0 {
		t.Errorf("the retransmitted INVITE reached the carrier: %q", firstLines(got))
	}
	if got := recv(r.dialer, 200*time.Millisecond); len(got) != 0 {
		t.Errorf("the retransmitted INVITE was answered: %q", firstLines(got))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.statuses) != 1 {
		t.Errorf("decisions: %v, want one", r.statuses)
	}
}

// A BYE retransmitted after its answer gets the same answer again for
// 64*T1 (RFC 3261 §17.2.2, Timer J), and the carrier gets one BYE.
func TestByeRetransmittedAfterItsAnswerGetsItAgain(t *testing.T) {
	r := newRig(t, allowAll{})
	route := sealedRoute(t, establishVia(t, r, "fin-bye"))
	msg := bye(route, "fin-bye", "dt", "ct", "finbye")
	send(t, r.dialer, r.proxyAddr(), msg)
	got := await(t, r.carrier, time.Second, "BYE ")
	send(t, r.carrier, r.proxyAddr(), strings.Replace(uasAnswer(got, "200 OK"), ";tag=ct;tag=ct", ";tag=ct", 1))
	first := await(t, r.dialer, time.Second, "SIP/2.0 ")
	time.Sleep(afterSipgo)
	send(t, r.dialer, r.proxyAddr(), msg)
	again := recvFirst(r.dialer, time.Second)
	if len(again) != 1 || again[0] != first {
		t.Errorf("the retransmitted BYE got %q, want the first answer again %q", firstLines(again), firstLines([]string{first}))
	}
	if got := recv(r.carrier, 300*time.Millisecond); len(got) != 0 {
		t.Errorf("the retransmitted BYE reached the carrier: %q", firstLines(got))
	}
}

// A non-2xx answer the carrier retransmits after the proxy's ACK gets the
// ACK again (RFC 3261 §17.1.1.2, Timer D), with the INVITE's top Via alone
// (§17.1.1.3), and reaches the dialer once.
func TestCarriersRetransmittedRejectionIsAckedAgain(t *testing.T) {
	r := newRig(t, allowAll{})
	inv := r.placeCall(t, invite("fin-486", "fin486"))
	rejection := uasAnswer(inv, "486 Busy Here")
	send(t, r.carrier, r.proxyAddr(), rejection)
	ack := await(t, r.carrier, time.Second, "ACK ")
	if vias, sent := headerValues(ack, "Via", "v"), headerValues(inv, "Via", "v"); len(vias) != 1 || len(sent) != 2 || vias[0] != sent[0] {
		t.Errorf("the ACK's Vias are %q, want only the INVITE's top one of %q", vias, sent)
	}
	await(t, r.dialer, time.Second, "SIP/2.0 486")
	time.Sleep(afterSipgo)
	send(t, r.carrier, r.proxyAddr(), rejection)
	again := recvFirst(r.carrier, time.Second)
	if len(again) != 1 || again[0] != ack {
		t.Errorf("the retransmitted 486 got %q, want the ACK again", firstLines(again))
	}
	for _, m := range recv(r.dialer, 300*time.Millisecond) {
		if strings.HasPrefix(m, "SIP/2.0 486") {
			t.Errorf("the retransmitted 486 reached the dialer")
		}
	}
}

func TestScanWire(t *testing.T) {
	// read is what scanWire read, as text.
	type read struct {
		status                 int
		method, branch, sentBy string
	}
	for _, tc := range []struct {
		name, msg string
		want      read
		ok        bool
	}{
		{"request", "BYE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.1:5060 ;branch=z9hG4bKx;rport\r\nCSeq: 2 BYE\r\n\r\n",
			read{method: "BYE", branch: "z9hG4bKx", sentBy: "10.0.0.1:5060"}, true},
		{"answer takes the CSeq method and the top Via", "SIP/2.0 200 OK\r\nVIA : SIP / 2.0 / UDP h:1;BRANCH=z9hG4bKa, SIP/2.0/UDP g;branch=z9hG4bKb\r\nVia: SIP/2.0/UDP f;branch=z9hG4bKc\r\nCSeq: 1 INVITE\r\n\r\n",
			read{status: 200, method: "INVITE", branch: "z9hG4bKa", sentBy: "h:1"}, true},
		{"CSeq before the Via", "SIP/2.0 486 Busy Here\r\nCSeq: 1 INVITE\r\nCall-ID: c\r\nVia: SIP/2.0/UDP h:1;branch=z9hG4bKa\r\nVia: SIP/2.0/UDP g;branch=z9hG4bKb\r\n\r\n",
			read{status: 486, method: "INVITE", branch: "z9hG4bKa", sentBy: "h:1"}, true},
		{"a tab in the CSeq", "BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nCSeq: 2\tBYE \r\n\r\n", read{method: "BYE", branch: "z9hG4bKx", sentBy: "h"}, true},
		{"three words in the CSeq", "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nCSeq: 2 BYE x\r\n\r\n", read{}, false},
		{"no magic cookie", "BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=1\r\nCSeq: 2 BYE\r\n\r\n", read{}, false},
		{"folded line", "BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n ;branch=z9hG4bKx\r\nCSeq: 2 BYE\r\n\r\n", read{}, false},
		{"folded onto the top Via", "BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n ;received=10.0.0.2\r\nCSeq: 2 BYE\r\n\r\n", read{}, false},
		{"folded onto the CSeq", "BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nCSeq: 2\r\n BYE\r\n\r\n", read{}, false},
		{"no CSeq", "BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n\r\n", read{method: "BYE", branch: "z9hG4bKx", sentBy: "h"}, true},
		{"an answer without CSeq", "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n\r\n", read{}, false},
		{"no end of headers", "BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n", read{}, false},
	} {
		w, ok := scanWire([]byte(tc.msg))
		got := read{w.status, string(w.method), string(w.branch), string(w.sentBy)}
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s: got %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// Entries expire after finishedLifetime, and expired ones leave the table.
func TestFinishedTxsExpire(t *testing.T) {
	defer func(l time.Duration) { finishedLifetime = l }(finishedLifetime)
	finishedLifetime = 50 * time.Millisecond
	var f finishedTxs
	f.add("a", []byte("x"), false)
	if e, ok := f.get([]byte("a")); !ok || string(e.resend) != "x" {
		t.Fatalf("get a: %+v, %v", e, ok)
	}
	time.Sleep(60 * time.Millisecond)
	if _, ok := f.get([]byte("a")); ok {
		t.Error("a has not expired")
	}
	f.add("b", nil, false)
	if len(f.byKey) != 1 || len(f.queue) != 1 {
		t.Errorf("after an expiry: %d keys, %d queued, want 1 and 1", len(f.byKey), len(f.queue))
	}
}

func TestDialogOf(t *testing.T) {
	for _, tc := range []struct {
		name, msg, callID string
		seq               uint32
		ok                bool
	}{
		{"full names", "ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nCall-ID: c1@h \r\nCSeq: 7 ACK\r\n\r\n", "c1@h", 7, true},
		{"compact Call-ID", "ACK sip:a@b SIP/2.0\r\ni: c2\r\nCSEQ : 1 ACK\r\n\r\n", "c2", 1, true},
		{"no CSeq", "ACK sip:a@b SIP/2.0\r\nCall-ID: c3\r\n\r\n", "", 0, false},
		{"folded Call-ID", "ACK sip:a@b SIP/2.0\r\nCall-ID: c4\r\n x\r\nCSeq: 1 ACK\r\n\r\n", "", 0, false},
		{"no end of headers", "ACK sip:a@b SIP/2.0\r\nCall-ID: c5\r\nCSeq: 1 ACK\r\n", "", 0, false},
	} {
		callID, seq, ok := dialogOf([]byte(tc.msg))
		if ok != tc.ok || ok && (string(callID) != tc.callID || seq != tc.seq) {
			t.Errorf("%s: got %q %d %v, want %q %d %v", tc.name, callID, seq, ok, tc.callID, tc.seq, tc.ok)
		}
	}
}
