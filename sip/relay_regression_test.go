package sip

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// The event-driven relays (inviteRelay, inDialogRelay) run in the
// goroutines that read or time what moves them: the UDP socket's reader,
// sipgo's, timers'. These check that none of them waits for another.

// A CANCEL that sipgo's transaction layer takes (it came from another
// address of the dialer than the INVITE) calls OnCancel holding the server
// transaction's lock, which the relay needs to answer the dialer while it
// holds its own: OnCancel must not wait for the relay's lock, or neither
// goes on and the INVITE never ends.
func TestACancelSipgoTakesDoesNotStallTheRelay(t *testing.T) {
	held := newHeldRecord(486)
	r := newRigWith(t, allowAll{}, func(c *Config) {
		c.SinkWaits = true
		c.Dialers[0].Sources = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/31")}
	}, held.sink)
	other := freeUDP(t, "127.0.0.3")
	inv := invite("abba", "abba")
	r.busyWhileHeld(t, inv, held)
	send(t, other, r.proxyAddr(), strings.ReplaceAll(cancelText(inv), "LOCAL", r.dialer.LocalAddr().String()))
	time.Sleep(300 * time.Millisecond)
	close(held.release)
	msgs := firstLines(recv(r.dialer, 2*time.Second))
	deadline := time.Now().Add(2 * time.Second)
	for r.p.activeInvites() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := r.p.activeInvites(); n != 0 {
		t.Fatalf("%d INVITE still in progress; the dialer got %v", n, msgs)
	}
}

// With Config.SinkWaits a final answer's record waits for the disk in a
// goroutine of its own, under the relay's lock. A CANCEL for that INVITE,
// which the UDP socket's reader takes (takeCancel), must not wait for that
// lock: the socket reads on, and another call goes through meanwhile.
func TestTheSocketReadsWhileADecisionWaitsForTheDisk(t *testing.T) {
	held := newHeldRecord(486)
	r := newRigWith(t, allowAll{}, func(c *Config) { c.SinkWaits = true }, held.sink)
	inv := invite("fsync", "fsync")
	r.busyWhileHeld(t, inv, held)
	send(t, r.dialer, r.proxyAddr(), cancelText(inv))
	time.Sleep(100 * time.Millisecond)
	// Another call, while the record waits.
	send(t, r.dialer, r.proxyAddr(), invite("second", "second"))
	second := recvCall(r.carrier, "second", 3*time.Second)
	close(held.release)
	if len(second) == 0 {
		t.Fatal("the socket read nothing while a decision record waited for the disk")
	}
}

// Cut gives up the ringing calls at once, not one after the other, each
// recording its decision (an fsync with audit.sync: always): 20 calls at
// 50 ms a record must not hold Cut a second past its ctx.
func TestCutGivesUpRingingCallsAtOnce(t *testing.T) {
	r := newRigWith(t, allowAll{}, func(c *Config) { c.SinkWaits = true },
		func(_ policy.Call, _ policy.Decision, status int) {
			if status == 503 {
				time.Sleep(50 * time.Millisecond) // an fsync
			}
		})
	for i := range 20 {
		got := r.placeCall(t, invite(fmt.Sprintf("cut-%d", i), fmt.Sprintf("cut%d", i)))
		send(t, r.carrier, r.proxyAddr(), answer(got, "180 Ringing", ""))
		awaitFirst(t, r.dialer, "SIP/2.0 180 ")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	r.p.Cut(ctx)
	took := time.Since(start)
	if took > 500*time.Millisecond {
		t.Errorf("Cut took %v, its ctx gave it 100ms", took)
	}
}

type slowForwarded struct {
	allowAll
	done atomic.Bool
}

func (s *slowForwarded) Forwarded(context.Context, policy.Call) error {
	time.Sleep(500 * time.Millisecond) // a registry write
	s.done.Store(true)
	return nil
}

// A carrier that answers at once finishes the relay before the handler has
// recorded the forwarded call for the frequency caps: the INVITE's handling
// (what Drain waits for) ends only once both are done.
func TestDrainWaitsForTheForwardedCallsRecord(t *testing.T) {
	d := &slowForwarded{}
	r := newRig(t, d)
	got := r.placeCall(t, invite("fwd", "fwd"))
	send(t, r.carrier, r.proxyAddr(), answer(got, "486 Busy Here", ""))
	await(t, r.dialer, 300*time.Millisecond, "SIP/2.0 486 ")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := r.p.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if !d.done.Load() {
		t.Error("Drain returned while Forwarded was still recording the call")
	}
}

// heldRecord is a DecisionSink that holds the record of a call that ended
// with status, as a disk slow to sync would: entered is closed as it starts
// waiting, and it returns once release is closed.
type heldRecord struct {
	status           int
	entered, release chan struct{}
}

func newHeldRecord(status int) *heldRecord {
	return &heldRecord{status: status, entered: make(chan struct{}), release: make(chan struct{})}
}

func (h *heldRecord) sink(_ policy.Call, _ policy.Decision, status int) {
	if status == h.status {
		close(h.entered)
		<-h.release
	}
}

// busyWhileHeld places inv, has the carrier ring and then answer 486, and
// returns once h holds the 486's record.
func (r *rig) busyWhileHeld(t *testing.T, inv string, h *heldRecord) {
	t.Helper()
	got := r.placeCall(t, inv)
	send(t, r.carrier, r.proxyAddr(), answer(got, "180 Ringing", ""))
	await(t, r.dialer, time.Second, "SIP/2.0 180 ")
	send(t, r.carrier, r.proxyAddr(), answer(got, "486 Busy Here", ""))
	<-h.entered
}

// With Config.SinkWaits the carrier's 2xx reaches the dialer only once its
// decision is recorded; a retransmission of that 2xx that comes meanwhile
// (the carrier's Timer G, RFC 3261 §13.3.1.4) must wait too: it is dropped,
// and a later one, after the record, is relayed.
func TestA2xxRetransmissionWaitsForTheRecordAsThe2xxDoes(t *testing.T) {
	held := newHeldRecord(200)
	r := newRigWith(t, allowAll{}, func(c *Config) { c.SinkWaits = true }, held.sink)
	got := r.placeCall(t, invite("held2xx", "held2xx"))
	ok := answer(got, "200 OK", "Contact: <sip:"+r.carrier.LocalAddr().String()+">\n")
	send(t, r.carrier, r.proxyAddr(), ok)
	<-held.entered
	send(t, r.carrier, r.proxyAddr(), ok)
	early := firstLines(recv(r.dialer, 300*time.Millisecond))
	close(held.release)
	for _, l := range early {
		if l == "SIP/2.0 200 OK" {
			t.Fatalf("the dialer got the 200 before its decision was recorded: %q", early)
		}
	}
	awaitNext(t, r.dialer, time.Second, "SIP/2.0 200 ")
	send(t, r.carrier, r.proxyAddr(), ok)
	awaitNext(t, r.dialer, time.Second, "SIP/2.0 200 ")
}
