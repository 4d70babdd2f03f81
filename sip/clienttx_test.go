package sip

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// A call that rings holds no goroutine of its own while it waits for the
// carrier's final answer (inviteRelay): 40 ringing calls add no more than a
// few goroutines, where a handler blocked on its client transaction held
// one each.
func TestRingingCallsHoldNoGoroutine(t *testing.T) {
	r := newRig(t, allowAll{})
	const calls = 40
	before := runtime.NumGoroutine()
	var invites []string
	for i := range calls {
		got := r.placeCall(t, invite(fmt.Sprintf("ringing-%d", i), fmt.Sprintf("ring%d", i)))
		send(t, r.carrier, r.proxyAddr(), answer(got, "180 Ringing", ""))
		awaitFirst(t, r.dialer, "SIP/2.0 180 ")
		invites = append(invites, got)
	}
	if ringing := r.p.activeInvites(); ringing != calls {
		t.Fatalf("%d INVITEs in progress, want %d", ringing, calls)
	}
	if grown := runtime.NumGoroutine() - before; grown > 10 {
		t.Errorf("%d calls ringing took %d goroutines more, want at most 10", calls, grown)
	}
	for _, got := range invites {
		send(t, r.carrier, r.proxyAddr(), answer(got, "486 Busy Here", ""))
		awaitFirst(t, r.dialer, "SIP/2.0 486 ")
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.p.activeInvites() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := r.p.activeInvites(); n != 0 {
		t.Errorf("%d INVITEs still in progress after their final answers", n)
	}
}

// The UDP socket hands answers to a client transaction as it reads them,
// and never waits for the transaction's user: with nobody reading its
// Responses, 20 provisional answers and the final one leave the socket free
// for the next call, and the final answer is kept.
func TestAnswersNeverWaitForTheirReader(t *testing.T) {
	r := newRig(t, allowAll{})
	tx := r.sendOptions(t, "unread")
	options := await(t, r.carrier, time.Second, "OPTIONS ")
	for range 20 {
		send(t, r.carrier, r.proxyAddr(), answer(options, "183 Session Progress", ""))
	}
	send(t, r.carrier, r.proxyAddr(), answer(options, "200 OK", ""))

	// The socket still reads: a call goes through meanwhile.
	got := r.placeCall(t, invite("after-unread", "afterunread"))
	send(t, r.carrier, r.proxyAddr(), answer(got, "486 Busy Here", ""))
	await(t, r.dialer, time.Second, "SIP/2.0 486 ")

	var statuses []int
	for len(statuses) == 0 || statuses[len(statuses)-1] < 200 {
		select {
		case res := <-tx.Responses():
			statuses = append(statuses, res.StatusCode)
		case <-time.After(time.Second):
			t.Fatalf("the transaction passed up %v and no final answer", statuses)
		}
	}
	if len(statuses) > answerBuffer {
		t.Errorf("%d answers passed up, want at most the buffer's %d", len(statuses), answerBuffer)
	}
}

// A request that gets no answer over UDP is sent again on Timer E, T1 then
// twice as long (RFC 3261 §17.1.2.2).
func TestUnansweredRequestIsSentAgain(t *testing.T) {
	r := newRig(t, allowAll{})
	r.sendOptions(t, "unanswered")
	// At 0, T1 and 3*T1, the next at 7*T1: three within 4*T1, with a
	// timer late by up to T1 on a loaded machine.
	window := 4 * sip.T1
	sent := 0
	for _, m := range recv(r.carrier, window) {
		if strings.HasPrefix(m, "OPTIONS ") {
			sent++
		}
	}
	if sent != 3 {
		t.Errorf("the carrier got the OPTIONS %d times in %v, want 3", sent, window)
	}
}

// awaitFirst waits up to a second for a message on c whose start line
// begins with start, passing over others.
func awaitFirst(t *testing.T, c net.PacketConn, start string) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if got := recvFirst(c, time.Until(deadline)); len(got) == 1 && strings.HasPrefix(got[0], start) {
			return
		}
	}
	t.Fatalf("no %q arrived", start)
}

// sendOptions sends an OPTIONS of the proxy's own to the carrier in a
// client transaction, ended with the test.
func (r *rig) sendOptions(t *testing.T, callID string) *clientTx {
	t.Helper()
	tx := r.p.begin(optionsToCarrier(r.p, callID))
	if tx == nil {
		t.Fatal("the OPTIONS was not sent")
	}
	t.Cleanup(tx.Terminate)
	return tx
}

// Once Ready, a request of the proxy's own leaves from its listening
// socket: sipgo takes the socket for sending just before its first read,
// which Ready waits for.
func TestTheProxysOwnRequestsLeaveOnceItIsReady(t *testing.T) {
	r := newRig(t, allowAll{})
	for i := range 20 {
		if i > 0 {
			r.restart()
		}
		tx := r.p.begin(optionsToCarrier(r.p, fmt.Sprintf("ready-%d", i)))
		if tx == nil {
			t.Fatalf("start %d: a request of the proxy's own could not be sent once it was ready", i)
		}
		tx.Terminate()
	}
}

// optionsToCarrier is an OPTIONS of the proxy's own to the carrier.
func optionsToCarrier(p *Proxy, callID string) *sip.Request {
	var uri sip.Uri
	if err := sip.ParseUri("sip:"+p.carrier.addr, &uri); err != nil {
		panic(err)
	}
	req := sip.NewRequest(sip.OPTIONS, uri)
	req.AppendHeader(p.newVia("udp", p.carrier.ip))
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &sip.FromHeader{Address: sip.Uri{User: "gatekeeper", Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", "gk")
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Host: p.carrier.ip.String()}, Params: sip.NewParams()})
	id := sip.CallIDHeader(callID)
	req.AppendHeader(&id)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	req.SetTransport("UDP")
	req.SetDestination(p.carrier.addr)
	req.Laddr = p.localAddr("udp", p.carrier.ip)
	req.SetBody(nil)
	return req
}
