package sip

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// A CANCEL sent as soon as the 100 Trying arrives (as early as RFC 3261 §9.1
// allows) must reach the carrier once it rings, whatever the proxy was doing.
func TestCancelRightBehindTheInviteCancelsTheCall(t *testing.T) {
	r := newRig(t, allowAll{})
	leaked := 0
	const n = 10
	for i := 0; i < n; i++ {
		cid := fmt.Sprintf("race-%d", i)
		inv := invite(cid, fmt.Sprintf("race%d", i))
		cancel := cancelText(inv)
		send(t, r.dialer, r.proxyAddr(), inv)
		if got := firstLines(recvCall(r.dialer, cid, time.Second)); len(got) == 0 || got[0] != "SIP/2.0 100 Trying" {
			t.Fatalf("no 100 Trying first: %q", got)
		}
		send(t, r.dialer, r.proxyAddr(), cancel)
		got := recvCall(r.carrier, cid, 500*time.Millisecond)
		if len(got) == 0 {
			recv(r.dialer, 50*time.Millisecond) // cancelled before it was forwarded: 200 and 487 from the proxy
			continue
		}
		send(t, r.carrier, r.proxyAddr(), answer(got[0], "180 Ringing", ""))
		// Wait for this call's CANCEL, passing over INVITE retransmissions;
		// a loaded machine may take a while, a leak never sends it.
		sawCancel := false
		for deadline := time.Now().Add(2 * time.Second); !sawCancel && time.Now().Before(deadline); {
			more := firstLines(recvCall(r.carrier, cid, time.Until(deadline)))
			sawCancel = len(more) == 1 && strings.HasPrefix(more[0], "CANCEL")
		}
		if !sawCancel {
			leaked++
			send(t, r.carrier, r.proxyAddr(), answer(got[0], "200 OK", "Contact: <sip:"+r.carrier.LocalAddr().String()+">\n"))
		}
		recv(r.dialer, 50*time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	if leaked > 0 {
		t.Errorf("%d/%d calls: the carrier rang with no CANCEL; audit statuses %v", leaked, n, r.statuses)
	}
}

// A carrier that never answers the CANCEL of a ringing call, nor gives its
// INVITE a final answer: 64×T1 after the CANCEL the dialer has its 487 and
// the INVITE's client transaction ends (RFC 3261 §9.1), rather than
// waiting for an answer without end with its goroutine and its entry in
// the transaction and dialog tables.
func TestCancelTheCarrierNeverAnswersEnds(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 64×T1 (32 s)")
	}
	r := newRig(t, allowAll{})
	inv := invite("cancel-unanswered", "cun")
	r.ringThenCancel(t, inv)
	pending := func() int {
		r.p.clientTxs.mu.Lock()
		defer r.p.clientTxs.mu.Unlock()
		return len(r.p.clientTxs.byKey)
	}
	deadline := time.Now().Add(cancelWait + 10*time.Second)
	var dialer []string
	for r.p.activeInvites() > 0 || pending() > 0 || r.p.dialogs.len() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%v after the CANCEL: %d INVITEs in progress, %d client transactions, %d dialogs; want none",
				cancelWait+10*time.Second, r.p.activeInvites(), pending(), r.p.dialogs.len())
		}
		dialer = append(dialer, firstLines(recv(r.dialer, 100*time.Millisecond))...)
	}
	if !slices.Contains(dialer, "SIP/2.0 487 Request Terminated") {
		t.Errorf("the dialer got %q, want a 487", dialer)
	}
}
