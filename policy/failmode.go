package policy

import (
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// failModes say what happens to a call the rules cannot decide because the
// registry failed, per dial mode:
//
//	on_error:
//	  automated: reject   # 503 Service Unavailable with Retry-After: the dialer tries later
//	  manual: allow       # an outage does not stop the calls agents dial by hand
//	  retry_after: 30     # seconds
type failModes struct {
	automated, manual Action
	retryAfter        int
}

// defaultRetryAfter is long enough for a store to recover, short enough that
// a dialer's retry lands within the campaign.
const defaultRetryAfter = 30

func parseFailModes(node ast.Node) (failModes, error) {
	m := failModes{automated: Reject, manual: Allow, retryAfter: defaultRetryAfter}
	if node == nil {
		return m, nil
	}
	if _, ok := node.(ast.MapNode); !ok {
		return m, yamlx.At(node, "on_error: want automated, manual and retry_after")
	}
	var f struct {
		Automated  string `yaml:"automated"`
		Manual     string `yaml:"manual"`
		RetryAfter *int   `yaml:"retry_after"`
	}
	if err := yaml.NodeToValue(node, &f, yaml.DisallowUnknownField()); err != nil {
		return m, err
	}
	for _, mode := range []struct {
		key string
		val string
		dst *Action
	}{{"automated", f.Automated, &m.automated}, {"manual", f.Manual, &m.manual}} {
		switch Action(mode.val) {
		case "":
		case Allow, Reject:
			*mode.dst = Action(mode.val)
		default:
			return m, yamlx.At(field(node, mode.key), "on_error: %s: %q is not reject or allow", mode.key, mode.val)
		}
	}
	if f.RetryAfter != nil {
		if *f.RetryAfter < 0 {
			return m, yamlx.At(field(node, "retry_after"), "on_error: retry_after is seconds, 0 or more")
		}
		m.retryAfter = *f.RetryAfter
	}
	return m, nil
}
