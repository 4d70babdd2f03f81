package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// clientTxs runs the client transactions of the requests the proxy sends
// (RFC 3261 §17.1, with RFC 6026 §7.2's Accepted state), outside sipgo's
// transaction layer. sipgo v1.7.3 starts a goroutine for every answer it
// reads and hands the answer to the transaction's user through an unbuffered
// channel, so the reading must not wait for it; here an answer read from a
// UDP socket reaches its transaction as it is read (takeResponse), and goes
// on to its user's answerFunc in the same goroutine, or into a buffer that
// always has room for it. Answers over TCP and TLS still come through sipgo's
// transport layer, to receive.
type clientTxs struct {
	transports *sip.TransportLayer
	log        *slog.Logger

	mu    sync.Mutex
	byKey map[string]*clientTx // by client transaction key (§17.1.3)
}

func newClientTxs(transports *sip.TransportLayer, log *slog.Logger) *clientTxs {
	return &clientTxs{transports: transports, log: log, byKey: map[string]*clientTx{}}
}

// answerFunc takes a client transaction's answers as they are read: each
// provisional answer and the final one (err nil), or, instead of a final
// answer, why there will be none (res nil: sip.ErrTransactionTimeout, a
// transport error, errProxyClosed). It runs in the goroutine that read the
// answer or saw the end, must not block, and is not called after the
// transaction's user terminated it.
type answerFunc func(res *sip.Response, err error)

// request sends req in a new client transaction whose answers go to on, or,
// when on is nil, to its Responses channel. It fails, without calling on,
// when req has no Via branch, when no connection to its destination can be
// had within ctx, when a transaction with its key is already running, or
// when the first write fails.
func (t *clientTxs) request(ctx context.Context, req *sip.Request, on answerFunc) (*clientTx, error) {
	key, err := sip.ClientTxKeyMake(req)
	if err != nil {
		return nil, err
	}
	conn, err := t.transports.ClientRequestConnection(ctx, req)
	if err != nil {
		return nil, err
	}
	tx := &clientTx{
		txs:      t,
		key:      key,
		req:      req,
		method:   req.Method,
		conn:     conn,
		invite:   req.IsInvite(),
		reliable: sip.IsReliable(req.Transport()),
		on:       on,
		done:     make(chan struct{}),
	}
	if on == nil {
		tx.responses = make(chan *sip.Response, answerBuffer)
	}
	t.mu.Lock()
	if _, running := t.byKey[key]; running {
		t.mu.Unlock()
		conn.TryClose()
		return nil, fmt.Errorf("client transaction %q is already running", key)
	}
	t.byKey[key] = tx
	t.mu.Unlock()
	if err := tx.start(); err != nil {
		tx.end(err)
		return nil, err
	}
	return tx, nil
}

// receive hands an answer to the client transaction it belongs to, and
// reports whether there was one. It never blocks on the transaction's user.
func (t *clientTxs) receive(res *sip.Response) bool {
	key, err := sip.ClientTxKeyMake(res)
	if err != nil {
		return false
	}
	t.mu.Lock()
	tx, ok := t.byKey[key]
	t.mu.Unlock()
	if ok {
		tx.receive(res)
	}
	return ok
}

// terminateAll ends every client transaction, as the proxy closes; those
// still waiting for a final answer tell their answerFunc errProxyClosed.
func (t *clientTxs) terminateAll() {
	t.mu.Lock()
	txs := make([]*clientTx, 0, len(t.byKey))
	for _, tx := range t.byKey {
		txs = append(txs, tx)
	}
	t.mu.Unlock()
	for _, tx := range txs {
		tx.end(errProxyClosed)
	}
}

// errProxyClosed ends the client transactions still running when the proxy closes.
var errProxyClosed = errors.New("the proxy closed")

// answerBuffer is how many answers a transaction holds for its user. A
// provisional answer that finds all but one place taken is dropped (it
// carries nothing the proxy must relay again), so that the final answer,
// the only one passed up after them, always finds a place.
const answerBuffer = 8

// txState is a client transaction's state (RFC 3261 §17.1.1, §17.1.2;
// RFC 6026 §7.2).
type txState uint8

const (
	txCalling    txState = iota // sent, no answer yet (Trying, for a non-INVITE)
	txProceeding                // a provisional answer came
	txCompleted                 // a final answer came (a non-2xx one, for an INVITE): retransmissions of it are absorbed
	txAccepted                  // a 2xx answered the INVITE: retransmissions of it go to onRetransmission
	txTerminated
)

// clientTx is one client transaction. Over UDP it sends its request again on Timer A (INVITE) or E (non-INVITE);
// it gives up on Timer B or F (64*T1) without a final answer. After a final
// answer it lingers to absorb retransmissions of it: a non-2xx answer to an
// INVITE is ACKed again, a 2xx passed to onRetransmission. It lingers
// sip.Timer_D or sip.Timer_M, which the proxy sets to sipgoAfterFinal: past
// that the finished-transaction table (finishedTxs) answers for it, as it
// does for sipgo's transactions. Over TCP and TLS, where the RFC has D and K
// at zero, it lingers as long, so that Done never closes before its user
// could read the final answer.
type clientTx struct {
	txs       *clientTxs
	key       string
	method    sip.RequestMethod
	conn      sip.Connection
	invite    bool
	reliable  bool
	on        answerFunc
	responses chan *sip.Response // when on is nil
	done      chan struct{}

	mu               sync.Mutex
	started          bool // the request went out: an end is reported to on
	state            txState
	interval         time.Duration // Timer A's or E's next wait
	retransmit       *time.Timer   // Timer A or E, over UDP
	lifetime         *time.Timer   // Timer B or F, then D or M
	req              *sip.Request  // until a final answer
	ack              *sip.Request  // the ACK of a non-2xx final answer to an INVITE
	onRetransmission sip.FnTxResponse
}

func (tx *clientTx) start() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.conn.WriteMsg(tx.req); err != nil {
		return fmt.Errorf("sending %s: %w", tx.method, err)
	}
	tx.started = true
	if !tx.reliable {
		tx.interval = sip.T1
		tx.retransmit = time.AfterFunc(tx.interval, tx.resend)
	}
	tx.lifetime = time.AfterFunc(64*sip.T1, tx.timeOut)
	return nil
}

// resend is Timer A or E: the request again, the wait doubled (for a
// non-INVITE, capped at T2, and T2 once an answer came: §17.1.2.2).
func (tx *clientTx) resend() {
	tx.mu.Lock()
	if tx.state > txProceeding || tx.invite && tx.state == txProceeding {
		tx.mu.Unlock()
		return
	}
	tx.interval *= 2
	if !tx.invite && (tx.interval > sip.T2 || tx.state == txProceeding) {
		tx.interval = sip.T2
	}
	tx.retransmit.Reset(tx.interval)
	err := tx.conn.WriteMsg(tx.req)
	tx.mu.Unlock()
	if err != nil {
		tx.end(fmt.Errorf("sending %s again: %w: %w", tx.method, err, sip.ErrTransactionTransport))
	}
}

// timeOut is Timer B or F: no final answer in 64*T1.
func (tx *clientTx) timeOut() {
	tx.mu.Lock()
	waiting, method := tx.state <= txProceeding, tx.method
	tx.mu.Unlock()
	if waiting {
		tx.end(fmt.Errorf("no final answer to %s in %s: %w", method, 64*sip.T1, sip.ErrTransactionTimeout))
	}
}

func (tx *clientTx) receive(res *sip.Response) {
	var (
		pass    bool
		ack     *sip.Request
		retrans sip.FnTxResponse
	)
	tx.mu.Lock()
	on := tx.on
	switch tx.state {
	case txCalling, txProceeding:
		switch {
		case res.IsProvisional():
			if tx.invite {
				// Timer C of the proxy, not B, bounds a ringing INVITE (§16.6 step 11).
				stop(tx.retransmit)
				stop(tx.lifetime)
			}
			tx.state = txProceeding
			pass = tx.on != nil || len(tx.responses) < cap(tx.responses)-1
		case res.IsSuccess() && tx.invite:
			tx.state, pass = txAccepted, true
			tx.linger(sip.Timer_M)
		default:
			tx.state, pass = txCompleted, true
			if tx.invite {
				tx.ack = ackOf(tx.req, res)
				ack = tx.ack
			}
			tx.linger(sip.Timer_D)
		}
	case txCompleted:
		if res.StatusCode >= 300 {
			ack = tx.ack // the final answer again: it lost our ACK (§17.1.1.2); nil for a non-INVITE
		}
	case txAccepted:
		if res.IsSuccess() {
			retrans = tx.onRetransmission
		}
	}
	if pass && on == nil {
		tx.responses <- res // never blocks: see answerBuffer
	}
	if tx.state > txProceeding {
		tx.on = nil // the final answer is its last: let its user go
	}
	tx.mu.Unlock()
	if pass && on != nil {
		on(res, nil)
	}
	if ack != nil {
		if err := tx.conn.WriteMsg(ack); err != nil {
			tx.txs.log.Warn("sending the ACK of a final answer failed", "call_id", ack.CallID().Value(), "error", err)
		}
	}
	if retrans != nil {
		go retrans(res) // may write over TCP: not on the socket's reading
	}
}

// linger stops the request's timers and ends the transaction after d; the
// request, not sent again, is let go meanwhile. Called with tx.mu held.
func (tx *clientTx) linger(d time.Duration) {
	stop(tx.retransmit)
	stop(tx.lifetime)
	tx.req = nil
	tx.lifetime = time.AfterFunc(d, func() { tx.end(nil) })
}

// end terminates the transaction: err says why (nil: it ran its course, or
// its user ended it). Ended for a reason before any final answer, it tells on.
func (tx *clientTx) end(err error) {
	tx.mu.Lock()
	if tx.state == txTerminated {
		tx.mu.Unlock()
		return
	}
	var tell answerFunc
	if err != nil && tx.started && tx.state <= txProceeding {
		tell = tx.on
	}
	tx.state = txTerminated
	stop(tx.retransmit)
	stop(tx.lifetime)
	close(tx.done)
	tx.mu.Unlock()

	tx.txs.mu.Lock()
	delete(tx.txs.byKey, tx.key)
	tx.txs.mu.Unlock()
	tx.conn.TryClose() // the reference ClientRequestConnection took
	if tell != nil {
		tell(nil, err)
	}
}

func stop(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// Responses gives the transaction's provisional answers, as far as its
// buffer holds them, and its final answer; nil for a transaction whose
// answers go to an answerFunc.
func (tx *clientTx) Responses() <-chan *sip.Response { return tx.responses }

// OnRetransmission registers f for every retransmission of the 2xx that
// answered the INVITE.
func (tx *clientTx) OnRetransmission(f sip.FnTxResponse) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.onRetransmission = f
}

// Terminate ends the transaction now.
func (tx *clientTx) Terminate() { tx.end(nil) }

// Done is closed when the transaction ends.
func (tx *clientTx) Done() <-chan struct{} { return tx.done }

// aside has f take answers in goroutines of their own, all of them or the
// final ones (and the end) only, for an answerFunc whose work may wait: a
// write over TCP or TLS, a DecisionSink that waits for the disk
// (Config.SinkWaits). The reading of the socket an answer came from must
// not wait with it.
func aside(f answerFunc, finalOnly bool) answerFunc {
	return func(res *sip.Response, err error) {
		if finalOnly && res != nil && res.StatusCode < 200 {
			f(res, err)
			return
		}
		go f(res, err)
	}
}
