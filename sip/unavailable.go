package sip

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Unavailable names why the gatekeeper itself takes no new call now. It is
// sent as the X-Gatekeeper-Unavailable header of the 503 such a call gets
// (unavailableResponse), which tells a dispatcher in front that another
// gatekeeper may take the call (configs/kamailio-dispatcher.cfg): a 503
// without it is a policy decision (X-Gatekeeper-Rule) or the carrier's
// answer, which goes to the dialer as it is. The empty value admits a call.
type Unavailable string

const (
	// UnavailableDraining: the proxy stops taking calls (Drain).
	UnavailableDraining Unavailable = "draining"
	// UnavailableOverloaded: Limits.InFlight new INVITEs are in progress.
	UnavailableOverloaded Unavailable = "overloaded"
	// UnavailableRateLimited: the source sent new INVITEs faster than
	// Limits.PerSource.
	UnavailableRateLimited Unavailable = "rate-limited"
	// UnavailableUnrecorded: the decision log cannot record the decision
	// (audit.on_failure; Config.Admit).
	UnavailableUnrecorded Unavailable = "unrecorded"
	// UnavailableCluster: the node cannot prove its copy of the cluster's
	// data current (cluster.unreachable: fail_closed; Config.Admit).
	UnavailableCluster Unavailable = "cluster"
	// UnavailableRegistry: the registry failed while the rules decided the
	// call, and the policy's on_error refused it (rule "registry-error",
	// with the policy's Retry-After; rejectCall).
	UnavailableRegistry Unavailable = "registry"
)

// unavailableHeader carries an Unavailable in a 503 the gatekeeper sends itself.
const unavailableHeader = "X-Gatekeeper-Unavailable"

// retryAfter is the Retry-After, in seconds, of the 503 for u: 1 for the
// limits (the next second's INVITEs may pass), 5 for the rest.
func (u Unavailable) retryAfter() string {
	if u == UnavailableOverloaded || u == UnavailableRateLimited {
		return "1"
	}
	return retryAfter
}

// unavailableResponse is the answer to a new INVITE the gatekeeper takes no
// call for now, because of u: 503 Service Unavailable with Retry-After
// (RFC 3261 §21.5.4) and X-Gatekeeper-Unavailable naming u.
func unavailableResponse(req *sip.Request, u Unavailable) *sip.Response {
	res := sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
	res.AppendHeader(sip.NewHeader("Retry-After", u.retryAfter()))
	res.AppendHeader(sip.NewHeader(unavailableHeader, string(u)))
	return res
}

// dropUnavailable removes every X-Gatekeeper-Unavailable (in any case) from
// an answer the gatekeeper relays: the header speaks for the gatekeeper that
// sends it, never for a carrier (or a gatekeeper) behind it.
func dropUnavailable(res *sip.Response) {
	var names []string // removing while ranging over Headers would skip one
	for _, h := range res.Headers() {
		if strings.EqualFold(h.Name(), unavailableHeader) {
			names = append(names, h.Name())
		}
	}
	for _, name := range names {
		res.RemoveHeader(name)
	}
}
