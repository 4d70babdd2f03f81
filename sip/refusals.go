package sip

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Reason says why the proxy refused or dropped a message; the values are
// the reason label of the refusal metric.
type Reason int

const (
	// Stranger: the source is no dialer's, or a request came from the carrier
	// outside a dialog the proxy routed (403, or dropped when so configured).
	Stranger Reason = iota
	// Unparsable: a datagram or stream that is no SIP message.
	Unparsable
	// RateLimited: the source sent new INVITEs faster than sip.limits.per_source (503).
	RateLimited
	// Overload: sip.limits.in_flight INVITE transactions were in progress (503).
	Overload
	// Unauthorized: digest credentials that do not match the dialer's (403).
	Unauthorized
	// TLSHandshake: a connection to a tls listener whose TLS handshake failed
	// (plaintext, no or an untrusted client certificate), closed without an answer.
	TLSHandshake
	reasons
)

var reasonNames = [reasons]string{"stranger", "unparsable", "rate_limited", "overload", "unauthorized", "tls_handshake"}

func (r Reason) String() string { return reasonNames[r] }

// Reasons lists every Reason, for metrics.
func Reasons() []Reason {
	all := make([]Reason, reasons)
	for i := range all {
		all[i] = Reason(i)
	}
	return all
}

// summarySources bounds how many sources a summary line names.
const summarySources = 5

// refusals counts what the proxy refuses and logs it as one summary line per
// interval, never a line per message: a flood of garbage or of refused
// requests must not flood the log.
type refusals struct {
	total [reasons]atomic.Uint64
	mu    sync.Mutex
	// window is what was refused since the last summary, by reason and by
	// source (at most maxWindowSources sources; the rest are counted as others).
	window  [reasons]uint64
	sources map[netip.Addr]uint64
	others  uint64
	// stackSeen holds the message texts of the SIP stack's log records let
	// through since the last summary, suppressed counts those held back (logBudget).
	stackSeen  sync.Map
	suppressed atomic.Uint64
}

// maxWindowSources bounds the sources a summary window keeps apart.
const maxWindowSources = 1024

func (r *refusals) add(reason Reason, source string) {
	r.total[reason].Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.window[reason]++
	ip, ok := addrIP(source)
	if !ok {
		return
	}
	if r.sources == nil {
		r.sources = map[netip.Addr]uint64{}
	}
	if _, ok := r.sources[ip]; ok || len(r.sources) < maxWindowSources {
		r.sources[ip]++
	} else {
		r.others++
	}
}

func (r *refusals) count(reason Reason) uint64 { return r.total[reason].Load() }

// summary returns the log attributes of what was refused since the last
// call, and resets the window; nil when nothing was.
func (r *refusals) summary() []any {
	r.mu.Lock()
	window, sources, others := r.window, r.sources, r.others
	r.window, r.sources, r.others = [reasons]uint64{}, nil, 0
	r.mu.Unlock()
	r.stackSeen.Clear()
	suppressed := r.suppressed.Swap(0)
	var attrs []any
	for i, n := range window {
		if n > 0 {
			attrs = append(attrs, Reason(i).String(), n)
		}
	}
	if len(sources) > 0 {
		attrs = append(attrs, "sources", topSources(sources, others))
	}
	if suppressed > 0 {
		attrs = append(attrs, "sip_stack_log_lines_held_back", suppressed)
	}
	return attrs
}

// topSources names the sources that sent most, with their counts:
// "127.0.0.3 (33000), 127.0.0.4 (12) and 3 more (5)".
func topSources(sources map[netip.Addr]uint64, others uint64) string {
	ips := make([]netip.Addr, 0, len(sources))
	for ip := range sources {
		ips = append(ips, ip)
	}
	slices.SortFunc(ips, func(a, b netip.Addr) int {
		return cmp.Or(cmp.Compare(sources[b], sources[a]), a.Compare(b))
	})
	var parts []string
	for _, ip := range ips[:min(len(ips), summarySources)] {
		parts = append(parts, fmt.Sprintf("%s (%d)", ip, sources[ip]))
	}
	rest, restCount := len(ips)-min(len(ips), summarySources), others
	for _, ip := range ips[min(len(ips), summarySources):] {
		restCount += sources[ip]
	}
	if others > 0 {
		rest++ // at least one more source, not kept apart
	}
	s := strings.Join(parts, ", ")
	if restCount > 0 {
		s += fmt.Sprintf(" and %d more (%d)", rest, restCount)
	}
	return s
}

// report logs a summary of the refusals every interval until ctx ends,
// and a last one then.
func (r *refusals) report(ctx context.Context, log *slog.Logger, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			r.log(log, time.Since(last))
			return
		case now := <-tick.C:
			r.log(log, now.Sub(last))
			last = now
		}
	}
}

func (r *refusals) log(log *slog.Logger, since time.Duration) {
	if attrs := r.summary(); attrs != nil {
		log.Warn("requests refused or dropped", append([]any{"in_the_last", since.Round(time.Millisecond).String()}, attrs...)...)
	}
}

// logBudget lets through one log record of the SIP stack (sipgo) per message
// text until the next summary and holds back the rest, counting them. sipgo
// logs each datagram it cannot parse at ERROR, with the datagram in full;
// through logBudget a stranger's garbage costs one line per interval.
// A datagram it cannot parse is counted as Unparsable.
type logBudget struct {
	slog.Handler
	r *refusals
}

// sipgoParseFailure is the message sipgo v1.7.3 logs for a message it cannot parse.
const sipgoParseFailure = "failed to parse"

// maxAttrLen bounds an attribute value logged from the SIP stack (a datagram is up to 64 KB).
const maxAttrLen = 256

func (h logBudget) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Message == sipgoParseFailure {
		h.r.add(Unparsable, "")
	}
	if _, dup := h.r.stackSeen.LoadOrStore(rec.Message, struct{}{}); dup {
		h.r.suppressed.Add(1)
		return nil
	}
	short := slog.NewRecord(rec.Time, rec.Level, rec.Message, rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		if s := a.Value.String(); len(s) > maxAttrLen {
			a = slog.String(a.Key, fmt.Sprintf("%s... (%d bytes)", s[:maxAttrLen], len(s)))
		}
		short.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, short)
}

func (h logBudget) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logBudget{h.Handler.WithAttrs(attrs), h.r}
}

func (h logBudget) WithGroup(name string) slog.Handler {
	return logBudget{h.Handler.WithGroup(name), h.r}
}
