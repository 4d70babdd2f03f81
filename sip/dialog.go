package sip

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/gatekeeper-sip/gatekeeper/media"
)

// dialogMaxAge ends the routing state of a call whose BYE never came through.
const dialogMaxAge = 12 * time.Hour

// dialog is what the proxy remembers of a call it forwarded, so that
// in-dialog requests are routed by the table, not by what a message claims:
// requests from the dialer's side go to the carrier, the carrier's go to the
// dialer, and nothing else is relayed (no open relay, no reflection). This
// also carries dialers that ignore Record-Route and send ACK/BYE with no Route.
type dialog struct {
	callID    string
	dialerTag string // From tag of the INVITE: marks requests from the dialer's side
	dialer    *Dialer
	// dialerAddr and dialerTransport reach the dialer: its Contact when that is
	// an address inside the dialer's sources (UDP), else where the INVITE came from.
	dialerAddr      string
	dialerTransport string
	// carrierTransport reaches the carrier: the configured transport, or TCP
	// when the INVITE was too large for UDP.
	carrierTransport string
	created          time.Time
	// state is the call's decision and what became of it, for its end.
	state *callState
	// inviteSeq is the CSeq number of the INVITE that opened the dialog
	// (0 for a dialog recovered from its seal): the ACK of its 2xx has it.
	inviteSeq uint32
	// answered is set once that INVITE's 2xx went to the dialer: until
	// then an ACK with inviteSeq acknowledges an error answer, hop by hop.
	answered bool
}

type dialogTable struct {
	mu   sync.Mutex
	byID map[string]*dialog
}

func newDialogTable() *dialogTable { return &dialogTable{byID: map[string]*dialog{}} }

// open records the dialog an initial INVITE starts, forwarded to the
// carrier over carrierTransport.
func (t *dialogTable) open(req *sip.Request, d *Dialer, carrierTransport string, state *callState) *dialog {
	tag, _ := req.From().Params.Get("tag")
	dl := &dialog{
		callID: req.CallID().Value(), dialerTag: tag, dialer: d,
		dialerAddr: req.Source(), dialerTransport: transportOf(req), carrierTransport: carrierTransport,
		created: time.Now(), state: state, inviteSeq: req.CSeq().SeqNo,
	}
	if c := dialerContact(req, d); c.IsValid() && dl.dialerTransport == "udp" {
		dl.dialerAddr = c.String()
	}
	return t.add(dl)
}

// add puts dl in the table and returns it; a recovered dialog (no state)
// that another request of the call recovered first returns that one.
func (t *dialogTable) add(dl *dialog) *dialog {
	t.mu.Lock()
	defer t.mu.Unlock()
	if had, ok := t.byID[dl.callID]; ok && had.state == nil && dl.state == nil {
		return had
	}
	t.byID[dl.callID] = dl
	return dl
}

// dialerContact is the address of the INVITE's Contact when it lies inside
// the dialer's sources, else the zero AddrPort: only such an address may
// receive the carrier's in-dialog requests.
func dialerContact(req *sip.Request, d *Dialer) netip.AddrPort {
	if c := req.Contact(); c != nil {
		if ip, ok := uriAddr(c.Address); ok && inSources(d, ip) {
			return netip.AddrPortFrom(ip, uint16(routePort(c.Address)))
		}
	}
	return netip.AddrPort{}
}

func (t *dialogTable) get(callID string) *dialog {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byID[callID]
}

// getAwaiting2xx is get, and whether the dialog's INVITE, which this
// process forwarded, still waits for its first 2xx to go to the dialer (a
// dialog rebuilt from its seal has no INVITE here: its state is nil).
func (t *dialogTable) getAwaiting2xx(callID string) (*dialog, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	dl := t.byID[callID]
	return dl, dl != nil && dl.state != nil && !dl.answered
}

// hasUDP reports whether the table holds the dialog of callID, opened by
// the INVITE with CSeq number seq and answered with a 2xx, with both sides
// reached over UDP (an ACK of that number may come from either side: the
// carrier numbers its own requests).
func (t *dialogTable) hasUDP(callID []byte, seq uint32) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	dl := t.byID[string(callID)]
	return dl != nil && dl.answered && dl.inviteSeq == seq && dl.carrierTransport == "udp" && dl.dialerTransport == "udp"
}

// answer marks dl's INVITE answered with a 2xx (hasUDP).
func (t *dialogTable) answer(dl *dialog) {
	t.mu.Lock()
	dl.answered = true
	t.mu.Unlock()
}

func (t *dialogTable) drop(callID string) {
	t.mu.Lock()
	delete(t.byID, callID)
	t.mu.Unlock()
}

// takeAll empties the table and returns what it held.
func (t *dialogTable) takeAll() []*dialog {
	t.mu.Lock()
	defer t.mu.Unlock()
	all := make([]*dialog, 0, len(t.byID))
	for _, dl := range t.byID {
		all = append(all, dl)
	}
	clear(t.byID)
	return all
}

// takeOlder removes and returns the dialogs created before cutoff.
func (t *dialogTable) takeOlder(cutoff time.Time) []*dialog {
	t.mu.Lock()
	defer t.mu.Unlock()
	var old []*dialog
	for id, dl := range t.byID {
		if dl.created.Before(cutoff) {
			old = append(old, dl)
			delete(t.byID, id)
		}
	}
	return old
}

func (t *dialogTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID)
}

// sweepDialogs ends the calls older than maxAge, every interval, until ctx
// ends: a dialog whose BYE never came through is reported ended by timeout.
func (p *Proxy) sweepDialogs(ctx context.Context, interval, maxAge time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			p.endDialogs(p.dialogs.takeOlder(now.Add(-maxAge)), EndedByTimeout)
		}
	}
}

// endDialogs reports the calls of dialogs taken from the table ended by by.
func (p *Proxy) endDialogs(dls []*dialog, by EndedBy) {
	now := p.cfg.Now()
	for _, dl := range dls {
		p.ended(dl.state, by, now)
	}
}

func inSources(d *Dialer, ip netip.Addr) bool {
	for _, pr := range d.Sources {
		if pr.Contains(ip) {
			return true
		}
	}
	return false
}

// transportOf is the transport a request came or goes over: "udp", "tcp" or "tls".
func transportOf(req *sip.Request) string {
	switch t := sip.NetworkToLower(req.Transport()); t {
	case "tcp", "tls":
		return t
	}
	return "udp"
}

// hop is where an in-dialog request goes next.
type hop struct {
	addr, transport string
	toDialer        bool
}

// from is the side a request routed to h comes from.
func (h hop) from() media.Side {
	if h.toDialer {
		return media.Carrier
	}
	return media.Dialer
}

// route finds the other side of the dialog for an in-dialog request, or
// the status to refuse it with.
func (p *Proxy) route(req *sip.Request) (*dialog, hop, int) {
	dl := p.dialogs.get(req.CallID().Value())
	recovered := dl == nil
	if recovered {
		dl = p.recover(req)
	}
	if dl == nil {
		if _, isDialer := p.dialerFor(req.Source()); !isDialer && !p.fromCarrier(req) {
			return nil, hop{}, 403
		}
		return nil, hop{}, 481
	}
	tag, _ := req.From().Params.Get("tag")
	ip, _ := addrIP(req.Source())
	next := hop{addr: dl.dialerAddr, transport: dl.dialerTransport, toDialer: true}
	switch {
	case tag == dl.dialerTag && !inSources(dl.dialer, ip), tag != dl.dialerTag && !p.fromCarrier(req):
		return nil, hop{}, 403
	case tag == dl.dialerTag:
		next = hop{addr: p.carrier.addr, transport: dl.carrierTransport}
	}
	if recovered {
		// Kept only once a side of the call sent it.
		dl = p.dialogs.add(dl)
	}
	return dl, next, 0
}

func (p *Proxy) fromCarrier(req *sip.Request) bool {
	ip, ok := addrIP(req.Source())
	return ok && p.isCarrier(ip)
}

// isCarrier tells whether ip is the carrier's: its next hop's address or one of CarrierSources.
func (p *Proxy) isCarrier(ip netip.Addr) bool {
	if ip == p.carrier.ip {
		return true
	}
	for _, pr := range p.cfg.CarrierSources {
		if pr.Contains(ip) {
			return true
		}
	}
	return false
}

// onAck relays the ACK for a 2xx; it has no transaction and no answer.
// (The ACK for an error answer is hop-by-hop: sipgo's transactions absorb it.)
// The ACK of an answered call's INVITE comes here from the UDP socket as it
// is read (takeAck), any other through sipgo.
func (p *Proxy) onAck(req *sip.Request, _ sip.ServerTransaction) {
	if validate(req) != nil {
		return
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		return // a looping ACK dies here; there is nobody to answer
	}
	dl, next, status := p.route(req)
	if status != 0 {
		return
	}
	build, _ := p.anchoredForward(dl.state, req, next.from(), p.relayed(req, next.addr)) // a late offer's answer
	if _, _, _, err := p.forward(build, next.transport, nil); err != nil {
		p.log.Warn("relaying ACK failed", "call_id", req.CallID().Value(), "error", err)
	}
}

// onInDialog handles BYE, UPDATE, INFO, PRACK and the other methods that only
// make sense inside a dialog the proxy routed.
// It reports whether a relay kept the transaction (forwardInDialog).
func (p *Proxy) onInDialog(req *sip.Request, tx sip.ServerTransaction) (kept bool) {
	if !p.valid(req, tx) {
		return false
	}
	if !req.To().Params.Has("tag") {
		if _, ok := p.dialerFor(req.Source()); !ok && !p.fromCarrier(req) {
			p.refuseStranger(req)
			return false
		}
		reply(tx, req, 405, "Method Not Allowed", sip.NewHeader("Allow", allowed))
		return false
	}
	return p.forwardInDialog(req, tx)
}

const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, PRACK, NOTIFY, MESSAGE, SUBSCRIBE"

// onRefer refuses call transfers: the carrier would place a call to the
// Refer-To target without the policy deciding on it.
func (p *Proxy) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	reply(tx, req, 405, "Method Not Allowed", sip.NewHeader("Allow", allowed))
}

// forwardInDialog relays an in-dialog request, and its answers as they
// come (inDialogRelay). It reports whether it kept the transaction, which
// the relay ends with the final answer.
func (p *Proxy) forwardInDialog(req *sip.Request, tx sip.ServerTransaction) (kept bool) {
	dl, next, status := p.route(req)
	switch status {
	case 403:
		p.refuseStranger(req)
		return false
	case 481:
		reply(tx, req, 481, "Call/Transaction Does Not Exist")
		return false
	}
	if !next.toDialer {
		p.agentSignal(dl, req)
	}
	r := &inDialogRelay{p: p, req: req, tx: tx, dl: dl, next: next}
	// A BYE's answer, or its timeout, ends the call (RFC 3261 §15.1.1), at
	// the moment the BYE came: its sender hung up. The end is reported before
	// the dialog leaves the table, so that Drain cannot return in between.
	if req.Method == sip.BYE {
		by, at := EndedByDialer, p.cfg.Now()
		if next.toDialer {
			by = EndedByCarrier
		}
		r.endCall = func() {
			p.ended(dl.state, by, at)
			p.dialogs.drop(dl.callID)
		}
	}
	build, _ := p.anchoredForward(dl.state, req, next.from(), p.relayed(req, next.addr))
	on := r.answer
	if transportOf(req) != "udp" {
		on = aside(r.answer, false) // a TCP or TLS write to the requester can wait
	}
	// The answers, and a re-INVITE's CANCEL, wait for r.mu until r is complete.
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.IsInvite() {
		// Its CANCEL from now on, while it is forwarded too: the tap takes
		// it, or sipgo (from another address), which answers 487 itself.
		r.unpend = p.pending.add(req, r)
		if !tx.OnCancel(func(*sip.Request) { r.cancel(true) }) {
			r.cancel(true)
		}
	}
	out, fwd, _, err := p.forward(build, next.transport, on)
	if err != nil {
		p.log.Warn("relaying in-dialog request failed", "method", req.Method, "call_id", dl.callID, "error", err)
		if req.IsInvite() {
			r.finished = true
			r.unpend()
		}
		reply(tx, req, 503, "Service Unavailable")
		return false
	}
	r.out = out
	if req.IsInvite() {
		r.fwd = fwd
		r.timerC = startTimerC(p.cfg.TimerC, r.timeOut)
	}
	return true
}

// inDialogRelay is an in-dialog request relayed to the other side of its
// dialog, until its final answer is relayed back.
type inDialogRelay struct {
	p    *Proxy
	req  *sip.Request
	tx   sip.ServerTransaction
	dl   *dialog
	next hop
	// endCall reports a BYE's end of the call (nil for other requests),
	// in a goroutine of its own: the report may wait on the registry
	// (answered calls' counts).
	endCall func()

	mu       sync.Mutex
	out      *clientTx
	finished bool // over TCP a provisional answer can come after the final one
	// A re-INVITE's progress on the other side (unused for the rest), and
	// whether sipgo took its CANCEL and answered the sender 487 itself.
	inviteProgress
	bySipgo bool
	unpend  func() // stops taking its CANCELs (pendingInvites)
}

// reportEnd runs endCall, once the request has its final answer.
func (r *inDialogRelay) reportEnd() {
	if r.endCall != nil {
		go r.endCall()
	}
}

// answer takes the answers to the relayed request (an answerFunc).
func (r *inDialogRelay) answer(res *sip.Response, _ error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return
	}
	if res == nil {
		r.endUnanswered()
		return
	}
	if res.StatusCode < 200 && r.fwd != nil {
		r.provisional(r.p, res.StatusCode)
	}
	lost := forUs(res)
	if res.StatusCode == 100 || lost && res.StatusCode < 200 {
		return
	}
	switch {
	case r.bySipgo && res.StatusCode >= 200 && res.StatusCode < 300 && !lost:
		// The sender has sipgo's 487, but every 2xx to an INVITE goes on
		// (RFC 3261 §16.7), statelessly now: the sender must ACK it, or the
		// other side ends the call (§13.3.1.4).
		r.p.relayStray2xx(res)
	case r.bySipgo: // the sender has its final answer, sipgo's 487
	case lost:
		r.p.log.Warn("an in-dialog answer has no Via but ours: not forwarded", "method", r.req.Method, "call_id", r.dl.callID, "status", res.StatusCode)
		reply(r.tx, r.req, 502, "Bad Gateway")
	default:
		rel := responseToRelay(res, r.req)
		r.p.anchorMessage(r.dl.state, r.dl.callID, r.next.from().Other(), rel)
		r.tx.Respond(rel)
	}
	if res.StatusCode < 200 {
		return
	}
	r.finish()
	if res.StatusCode < 300 && r.req.IsInvite() {
		r.out.Terminate()
	}
	endServerTx(r.tx)
}

// timeOut is a re-INVITE's Timer C (RFC 3261 §16.8): a ringing one gets a
// CANCEL and cancelWait more for its final answer; one that never rang, or
// got none after its CANCEL, ends with 408 (487 once its sender cancelled
// it) for the side that sent it.
func (r *inDialogRelay) timeOut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished || r.timerC.early() {
		return
	}
	if r.cancelRinging(r.p) {
		return
	}
	r.out.Terminate()
	r.endUnanswered()
}

// cancel takes the sender's CANCEL of its re-INVITE (a canceller): the
// other side gets one (once it rang, §9.1), and its final answer, normally
// 487, goes to the sender, unless sipgo answered the CANCEL (bySipgo). It
// does not wait for r.mu.
func (r *inDialogRelay) cancel(bySipgo bool) { go r.cancelled487(bySipgo) }

func (r *inDialogRelay) cancelled487(bySipgo bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return
	}
	r.bySipgo = r.bySipgo || bySipgo
	if !r.cancelled {
		r.cancelDownstream(r.p)
	}
}

// endUnanswered ends a request the other side gave no final answer to:
// 408 for its sender, 487 once it cancelled, none after sipgo's 487.
func (r *inDialogRelay) endUnanswered() {
	r.finish()
	if !r.bySipgo {
		giveUp(r.tx, r.req, r.cancelled)
	}
	endServerTx(r.tx)
}

// finish marks the request answered and reports a BYE's end of the call.
func (r *inDialogRelay) finish() {
	r.finished = true
	if r.fwd != nil {
		r.timerC.stop()
		r.unpend()
	}
	r.reportEnd()
}

// relayStray2xx relays a 2xx to an INVITE that no transaction holds any
// more (a retransmission): proxies forward every 2xx (RFC 3261 §16.7). It
// goes to the other side of its dialog, and only when it comes from one side
// and bears a Via below ours.
func (p *Proxy) relayStray2xx(res *sip.Response) {
	if res.StatusCode < 200 || res.StatusCode >= 300 || res.CSeq() == nil || res.CSeq().MethodName != sip.INVITE || res.CallID() == nil || forUs(res) {
		return
	}
	via := res.Via()
	if via == nil {
		return
	}
	if ip, err := netip.ParseAddr(via.Host); err != nil || !p.own[netip.AddrPortFrom(ip.Unmap(), uint16(via.Port))] {
		return
	}
	dl, awaiting := p.dialogs.getAwaiting2xx(res.CallID().Value())
	if awaiting {
		// The first 2xx waits for its decision's record (Config.SinkWaits):
		// none may overtake it. The carrier sends it again.
		return
	}
	recovered := dl == nil
	if branch, _ := via.Params.Get("branch"); recovered && p.sentByUs(branch) {
		// This process forwarded the INVITE and its call has ended (its
		// ACK lost, or a 2xx hung up after a CANCEL): only an earlier
		// process's call is brought back from its seal.
		return
	}
	if recovered {
		dl = p.recoverAnswer(res)
	}
	if dl == nil {
		return
	}
	ip, _ := addrIP(res.Source())
	var dest, transport string
	var from media.Side
	switch {
	case p.isCarrier(ip):
		dest, transport, from = dl.dialerAddr, dl.dialerTransport, media.Carrier
	case inSources(dl.dialer, ip):
		// The dialer answering a re-INVITE from the carrier.
		dest, transport, from = p.carrier.addr, dl.carrierTransport, media.Dialer
	default:
		return
	}
	if recovered {
		// Kept only once a side of the call sent it.
		dl = p.dialogs.add(dl)
	}
	out := res.Clone()
	p.anchorMessage(dl.state, dl.callID, from, out)
	out.RemoveHeader("Via")
	out.SetDestination(dest)
	out.SetTransport(strings.ToUpper(transport))
	if err := p.writeStray(out, transport, dest); err != nil {
		p.log.Debug("relaying a 2xx retransmission failed", "call_id", dl.callID, "error", err)
	}
}

// writeStray sends a response that answers no request this process
// received. Over UDP, to a side that has sent this process nothing yet (a
// 2xx relayed after a restart), it leaves from our listening socket, as
// sipgo only answers addresses it has heard from.
func (p *Proxy) writeStray(res *sip.Response, transport, dest string) error {
	err := p.server.WriteResponse(res)
	ip, ok := addrIP(dest)
	if err == nil || transport != "udp" || !ok {
		return err
	}
	conn, cerr := p.server.TransportLayer().GetConnection("udp", p.listens[familyOf("udp", ip)].String())
	if cerr != nil {
		return err
	}
	defer conn.TryClose() // GetConnection took a reference
	return conn.WriteMsg(res)
}

// onOptions answers OPTIONS addressed to the gatekeeper (keepalives, a
// dispatcher's probes) with 200 while it takes calls and 503 with
// Retry-After while it does not (Serving); an in-dialog OPTIONS is relayed.
// It reports whether a relay kept the transaction (forwardInDialog).
func (p *Proxy) onOptions(req *sip.Request, tx sip.ServerTransaction) (kept bool) {
	if !p.valid(req, tx) {
		return false
	}
	if req.To().Params.Has("tag") {
		return p.forwardInDialog(req, tx)
	}
	if !p.Serving() {
		reply(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", retryAfter))
		return false
	}
	reply(tx, req, 200, "OK", sip.NewHeader("Allow", allowed), sip.NewHeader("Accept", "application/sdp"))
	return false
}

// onUnmatchedCancel answers a CANCEL that matches no INVITE in progress.
func (p *Proxy) onUnmatchedCancel(req *sip.Request, tx sip.ServerTransaction) {
	reply(tx, req, 481, "Call/Transaction Does Not Exist")
}
