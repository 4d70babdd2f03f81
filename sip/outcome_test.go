package sip

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A call whose BYE never comes is reported ended by timeout once its dialog
// is older than the sweep's limit, with its answer time; the sweep reports
// it once.
func TestDialogWithNoByeEndsByTimeout(t *testing.T) {
	r := newRig(t, allowAll{})
	send(t, r.dialer, r.proxyAddr(), invite("no-bye", "nb1"))
	got := recv(r.carrier, 300*time.Millisecond)
	if len(got) == 0 || !strings.HasPrefix(got[0], "INVITE ") {
		t.Fatalf("carrier got %q", firstLines(got))
	}
	send(t, r.carrier, r.proxyAddr(), answer(got[0], "200 OK", "Contact: <sip:"+r.carrier.LocalAddr().String()+">\n"))
	if got := firstLines(recv(r.dialer, 300*time.Millisecond)); !strings.Contains(strings.Join(got, "|"), "SIP/2.0 200 OK") {
		t.Fatalf("dialer got %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.p.sweepDialogs(ctx, 10*time.Millisecond, 100*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ends) != 1 {
		t.Fatalf("%d ends reported, want 1: %+v", len(r.ends), r.ends)
	}
	e := r.ends[0]
	if e.EndedBy != EndedByTimeout || e.Status != 200 || e.Answered.IsZero() || e.Call.CallID != "no-bye" || e.Duration() < 100*time.Millisecond ||
		e.Media != nil { // not anchored: no verdict
		t.Errorf("end of a call with no BYE: %+v", e)
	}
	if r.p.Stats().Dialogs != 0 {
		t.Errorf("the dialog is still in the table")
	}
}
