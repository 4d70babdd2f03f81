package main

import "github.com/gatekeeper-sip/gatekeeper/internal/config"

// unready names what keeps a new call from being decided now, none when
// nothing does: a list a rejecting stale rule needs is missing or stale (the
// shipped policy then refuses every call), or the decision log cannot
// record decisions and audit.on_failure refuses calls for it, or in a
// cluster, this node has not applied the shared opt-outs and consents or,
// with cluster.unreachable: fail_closed, cannot prove them current. The registry
// and the policy are open before any call or probe is answered.
func (g *gatekeeper) unready() []string {
	why := staleLists(g.rules, g.store, g.now())
	if err := g.decisions.Health(); err != nil && g.cfg.Audit.OnFailure != config.Allow {
		why = append(why, "the decision log: "+err.Error())
	}
	if g.clusterGate != nil {
		if w := g.clusterGate.unready(); w != "" {
			why = append(why, w)
		}
	}
	return why
}

// readiness is what /readyz answers: unready, and whether SIP is up and
// not draining (sip.Proxy.Serving).
func (g *gatekeeper) readiness() []string {
	why := g.unready()
	if len(why) == 0 && !g.proxy.Serving() {
		why = append(why, "SIP: starting or draining")
	}
	return why
}
