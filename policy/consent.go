package policy

import (
	"context"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// consent holds when the consent that applies to the call is one of the
// kinds named: none, express or written.
//
//	match:
//	  consent: [none]             # no consent at all
//	  consent: [none, express]    # no written consent
//
// A consent applies when it is in scope for the call's seller and campaign
// (a record naming neither covers every call), granted before the call, not
// expired, not revoked (in the record, or live through `gatekeeper consent
// revoke`) and not voided by a Reassigned Numbers Database yes after its
// grant; written beats express. The trace value is the kind, or, for none,
// why no record applies; the trace names the record (the nearest miss for
// none) and the consent data's version.
type consent struct {
	kinds []string
}

// noConsent are the trace values of a call without consent, by why.
var noConsent = map[string]string{}

func init() {
	for _, why := range []string{registry.WhyAbsent, registry.WhyOutOfScope, registry.WhyNotYet, registry.WhyExpired, registry.WhyRevoked, registry.WhyReassigned} {
		noConsent[why] = "none: " + why
	}
}

var consentKinds = []string{registry.ConsentNone, registry.ConsentExpress, registry.ConsentWritten}

func init() { registerCondition("consent", parseConsent) }

func parseConsent(_ *parser, value ast.Node) (condition, error) {
	kinds, nodes, err := stringList(value, "consent", "[none, express]")
	if err != nil {
		return nil, err
	}
	for i, k := range kinds {
		if !slices.Contains(consentKinds, k) {
			return nil, yamlx.At(nodes[i], "consent %q is not one of %s", k, strings.Join(consentKinds, ", "))
		}
	}
	return &consent{kinds: kinds}, nil
}

func (c *consent) eval(_ context.Context, f *facts, reg Registry) (ConditionTrace, error) {
	a, err := reg.Consent(f.Called, f.Seller, f.Campaign, f.Time)
	if err != nil {
		return ConditionTrace{}, err
	}
	// Values made of constants and the record's own id: no allocation per call.
	value := a.Kind
	if a.Kind == registry.ConsentNone {
		value = noConsent[a.Why]
	}
	var record string
	if a.Record != nil {
		record = a.Record.ID
	}
	return ConditionTrace{Holds: slices.Contains(c.kinds, a.Kind), Value: value, Version: a.Version, Record: record}, nil
}
