package sip

import (
	"github.com/emiago/sipgo/sip"
)

// handlerFrame is the stack frame growStack takes: enough that one growth
// takes a new goroutine's 2 KB stack straight to 16 KB, the size a
// request's path through the proxy reaches (sipgo's transaction layer, the
// policy, the audit record, sipgo's transport).
const handlerFrame = 10 << 10

// growIndex is 0; read at run time, it keeps the compiler from proving
// growStack's frame unused.
var growIndex = 0

// dispatch hands a request sipgo's transaction layer read to its handler,
// in the goroutine sipgo started for it, on a stack grown once at its start.
// sipgo's goroutine stack starts at 2 KB; Go grows a stack by copying it to
// one twice the size and adjusting every frame, so a request that reaches
// 16 KB deep in its path paid three growths, each walking twenty and more
// frames: 22 % of the proxy's instructions at 1,000 calls/s (callgrind; 7 %
// of a CPU profile). Grown at the handler's entry it is one cheap copy.
//
// A handler that relays the request keeps its transaction, and its relay
// ends it with the final answer (inviteRelay, inDialogRelay); every other
// transaction ends as its handler returns, as sipgo's Server ends its
// handlers' (sip.ServerTx.TerminateGracefully: over UDP, a final answer's
// transaction lingers to answer retransmissions).
func (p *Proxy) dispatch(req *sip.Request, tx *sip.ServerTx) {
	growStack()
	kept := false
	switch req.Method {
	case sip.INVITE:
		kept = p.onInvite(req, tx)
	case sip.ACK:
		p.onAck(req, tx)
	case sip.CANCEL:
		p.onUnmatchedCancel(req, tx)
	case sip.OPTIONS:
		kept = p.onOptions(req, tx)
	case sip.REFER:
		// A REFER would have the carrier place a call the policy never saw.
		p.onRefer(req, tx)
	default:
		// BYE, UPDATE, INFO, PRACK, NOTIFY, MESSAGE, SUBSCRIBE and any other.
		kept = p.onInDialog(req, tx)
	}
	if !kept && tx != nil {
		endServerTx(tx)
	}
}

// growStack needs a frame of handlerFrame bytes, which the goroutine's
// stack must hold before it runs.
//
//go:noinline
func growStack() byte {
	var frame [handlerFrame]byte
	frame[growIndex] = 1
	return frame[growIndex]
}
