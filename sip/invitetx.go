package sip

import (
	"context"
	"log/slog"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// inviteTxs runs the proxy's INVITE client transactions. A forwarded INVITE
// carries every Via it was received with, under our own (RFC 3261 §16.6
// step 8), and sipgo v1.7.3 builds the ACK for a non-2xx answer from every
// Via of the INVITE it sent, where §17.1.1.3 wants one, the INVITE's top
// one: ours. So these transactions are sipgo's ClientTx on a connection that
// trims that ACK (topViaAck), kept outside sipgo's transaction layer, which
// takes no connection from its caller; their answers come through the
// layer's handler for answers that match none of its own transactions
// (receive).
type inviteTxs struct {
	transports *sip.TransportLayer
	log        *slog.Logger

	mu    sync.Mutex
	byKey map[string]*sip.ClientTx // by client transaction key (§17.1.3)
}

func newInviteTxs(transports *sip.TransportLayer, log *slog.Logger) *inviteTxs {
	return &inviteTxs{transports: transports, log: log, byKey: map[string]*sip.ClientTx{}}
}

// request sends an INVITE in a new client transaction. It returns sipgo's
// errors: no Via branch, no connection to the destination, a failed write.
func (t *inviteTxs) request(ctx context.Context, invite *sip.Request) (sip.ClientTransaction, error) {
	key, err := sip.ClientTxKeyMake(invite)
	if err != nil {
		return nil, err
	}
	conn, err := t.transports.ClientRequestConnection(ctx, invite)
	if err != nil {
		return nil, err
	}
	tx := sip.NewClientTx(key, invite, topViaAck{conn}, t.log)
	t.mu.Lock()
	t.byKey[key] = tx
	t.mu.Unlock()
	tx.OnTerminate(func(key string, _ error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		delete(t.byKey, key)
	})
	if err := tx.Init(); err != nil {
		tx.Terminate()
		return nil, err
	}
	return tx, nil
}

// receive hands an answer to the INVITE client transaction it belongs to,
// and reports whether there was one.
func (t *inviteTxs) receive(res *sip.Response) bool {
	key, err := sip.ClientTxKeyMake(res)
	if err != nil {
		return false
	}
	t.mu.Lock()
	tx, ok := t.byKey[key]
	t.mu.Unlock()
	if ok {
		tx.Receive(res)
	}
	return ok
}

// terminateAll ends every INVITE client transaction, as sipgo's transaction
// layer ends its own when the user agent closes.
func (t *inviteTxs) terminateAll() {
	t.mu.Lock()
	txs := make([]*sip.ClientTx, 0, len(t.byKey))
	for _, tx := range t.byKey {
		txs = append(txs, tx)
	}
	t.mu.Unlock()
	for _, tx := range txs {
		tx.Terminate() // its OnTerminate takes t.mu
	}
}

// topViaAck is the connection of an INVITE client transaction. The only ACK
// such a transaction writes is the one for a non-2xx answer, which goes out
// with the INVITE's top Via alone (RFC 3261 §17.1.1.3).
type topViaAck struct{ sip.Connection }

func (c topViaAck) WriteMsg(msg sip.Message) error {
	if ack, ok := msg.(*sip.Request); ok && ack.IsAck() {
		if vias := ack.GetHeaders("Via"); len(vias) > 1 {
			for range vias {
				ack.RemoveHeader("Via")
			}
			ack.PrependHeader(vias[0])
		}
	}
	return c.Connection.WriteMsg(msg)
}
