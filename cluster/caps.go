package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Cap is a frequency cap: at most Limit forwarded attempts per counter
// within any rolling Within.
type Cap struct {
	Limit  int
	Within time.Duration
}

// capStreamPrefix starts the name of every cap's stream; its subjects are
// gk.att.LIMIT.SECONDS.COUNTER.
const capStreamPrefix = "GK_ATT_"

// stream names the cap's stream and its subjects: one stream per cap, so
// that its per-subject limit is the cap's limit and its max age the window.
func (c Cap) stream() (name, subjects string) {
	secs := int64(c.Within / time.Second)
	return fmt.Sprintf("%s%d_%d", capStreamPrefix, c.Limit, secs), fmt.Sprintf("gk.att.%d.%d", c.Limit, secs)
}

// Reserve records a forwarded attempt of the call callID (its SIP Call-ID)
// under counter (the policy's counter name, e.g. n/+12025550143) if the
// cap leaves room for it, and reports whether it did. The server decides,
// for every node at once: the cap's stream keeps at most Limit messages per
// counter for Within and refuses the next (discard new per subject), so
// that concurrent calls from several nodes never exceed the cap. The same
// callID again within two minutes (or Within, if shorter) is the same
// attempt: reserved again without counting twice (a call without a Call-ID
// is never taken for another). A cap of 0 reserves nothing.
// Errors: ErrUnproven at once while the node cannot prove it reaches the
// cluster (rather than each call waiting for the reservation's bound), or
// the cluster's, after which the node is unproven until the cluster answers
// again; the caller decides a call it cannot reserve as its fail mode says.
func (n *Node) Reserve(ctx context.Context, c Cap, counter, callID string) (bool, error) {
	if c.Limit <= 0 {
		return false, nil
	}
	if c.Within < time.Second {
		return false, fmt.Errorf("a cap's window of %s is under a second", c.Within)
	}
	if !n.cur.proven(len(n.watch.buckets), time.Now()) {
		return false, ErrUnproven
	}
	reserved, err := n.reserve(ctx, c, counter, callID)
	if err != nil {
		n.cur.failed(err, true)
	}
	return reserved, err
}

func (n *Node) reserve(ctx context.Context, c Cap, counter, callID string) (bool, error) {
	name, subjects := c.stream()
	if err := n.capStream(ctx, c, name, subjects); err != nil {
		return false, err
	}
	var opts []jetstream.PublishOpt
	if callID != "" {
		opts = append(opts, jetstream.WithMsgID(callID))
	}
	// A publish whose answer was lost is sent again: the Call-ID makes it
	// the same attempt, counted once.
	reserved := false
	bounded, cancel := context.WithTimeout(ctx, reserveWait)
	defer cancel()
	err := retry(bounded, func(try context.Context) error {
		_, err := n.js.Publish(try, subjects+"."+subjectToken(counter), []byte(callID), opts...)
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeStoreFailed && strings.Contains(apiErr.Description, "maximum messages per subject") {
			return nil
		}
		reserved = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("stream %s: %w", name, err)
	}
	return reserved, nil
}

// reserveWait bounds a reservation, retries included.
const reserveWait = 5 * time.Second

// capStream creates the cap's stream once per node.
func (n *Node) capStream(ctx context.Context, c Cap, name, subjects string) error {
	n.capsMu.Lock()
	defer n.capsMu.Unlock()
	if n.caps[name] {
		return nil
	}
	cfg := jetstream.StreamConfig{
		Name:                 name,
		Description:          fmt.Sprintf("forwarded attempts, at most %d per counter within %s", c.Limit, c.Within),
		Subjects:             []string{subjects + ".>"},
		MaxMsgsPerSubject:    int64(c.Limit),
		Discard:              jetstream.DiscardNew,
		DiscardNewPerSubject: true,
		MaxAge:               c.Within,
		Duplicates:           min(2*time.Minute, c.Within),
		Replicas:             n.opts.Replicas,
		Storage:              jetstream.FileStorage,
	}
	bounded, cancel := context.WithTimeout(ctx, reserveWait)
	defer cancel()
	err := retry(bounded, func(try context.Context) error {
		_, err := n.js.CreateOrUpdateStream(try, cfg)
		return err
	})
	if err != nil {
		return fmt.Errorf("stream %s: %w", name, err)
	}
	n.caps[name] = true
	return nil
}

// errCodeStoreFailed is JetStream's JSStreamStoreFailedF, which carries
// "maximum messages per subject exceeded" when discard-new per subject refuses a message.
const errCodeStoreFailed jetstream.ErrorCode = 10077

// subjectToken makes counter one subject token that reads like it: letters,
// digits and - stay, every other byte becomes _XX (its hex), so that two
// counters never share a token (n/+12025550143 -> n_2F_2B12025550143).
func subjectToken(counter string) string {
	var b strings.Builder
	for i := 0; i < len(counter); i++ {
		switch ch := counter[i]; {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9', ch == '-':
			b.WriteByte(ch)
		default:
			fmt.Fprintf(&b, "_%02X", ch)
		}
	}
	return b.String()
}
