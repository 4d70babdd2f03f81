package policy

import (
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// policyFile is the policy file as written. Every value is checked while it is
// decoded, so that each error names the line and column it is about.
type policyFile struct {
	Mode  mode     `yaml:"mode"`
	Rules ruleList `yaml:"rules"`
}

const (
	modeEnforce = "enforce"
	modeMonitor = "monitor" // decide and log, but forward every call
)

type mode string

func (m *mode) UnmarshalYAML(node ast.Node) error {
	s, err := yamlx.String(node)
	if err != nil {
		return err
	}
	if s != modeEnforce && s != modeMonitor {
		return yamlx.At(node, "mode %q is not enforce or monitor", s)
	}
	*m = mode(s)
	return nil
}

// Names of decisions that no rule of the file made; rules may not take them.
const (
	ruleDefault       = "default"
	ruleInvalidNumber = "invalid-number"
	ruleRegistryError = "registry-error"
)

// rule is one checked rule of the policy.
type rule struct {
	name   string
	match  matchSet // all must hold; empty matches every call
	action Action
	status int    // for reject
	reason string // for reject
}

type ruleList []rule

func (l *ruleList) UnmarshalYAML(node ast.Node) error {
	seq, ok := node.(*ast.SequenceNode)
	if !ok {
		return yamlx.At(node, "rules: want a list of rules")
	}
	rules := make(ruleList, 0, len(seq.Values))
	firstUse := make(map[string]ast.Node, len(seq.Values))
	for _, item := range seq.Values {
		var r rule
		if err := r.UnmarshalYAML(item); err != nil {
			return err
		}
		if first, dup := firstUse[r.name]; dup {
			return yamlx.At(valueAt(item, "name"), "rule name %q is already used at line %d", r.name, first.GetToken().Position.Line)
		}
		firstUse[r.name] = valueAt(item, "name")
		rules = append(rules, r)
	}
	*l = rules
	return nil
}

func (r *rule) UnmarshalYAML(node ast.Node) error {
	if _, ok := node.(ast.MapNode); !ok {
		return yamlx.At(node, "a rule is a mapping with name, match and action")
	}
	var f struct {
		Name   string    `yaml:"name"`
		Match  matchSet  `yaml:"match"`
		Action string    `yaml:"action"`
		Status sipStatus `yaml:"status"`
		Reason string    `yaml:"reason"`
	}
	if err := yaml.NodeToValue(node, &f, yaml.DisallowUnknownField()); err != nil {
		return err
	}
	if err := checkRuleName(f.Name, valueAt(node, "name")); err != nil {
		return err
	}
	// An empty match would silently take every call; a catch-all leaves match out.
	if m := field(node, "match"); m != nil && len(f.Match) == 0 {
		return yamlx.At(m, "rule %q: match has no conditions; leave match out for a rule that takes every call", f.Name)
	}
	r.name, r.match, r.action = f.Name, f.Match, Action(f.Action)
	statusNode, reasonNode := field(node, "status"), field(node, "reason")
	switch r.action {
	case Reject:
		r.status, r.reason = int(f.Status), f.Reason
		if r.status == 0 { // sipStatus refuses 0, so 0 means not given
			r.status = 603
		}
		if r.reason == "" {
			r.reason = reasonPhrases[r.status]
		}
		if r.reason == "" {
			return yamlx.At(statusNode, "rule %q: status %d has no standard reason phrase; give one with reason:", r.name, r.status)
		}
		if !printable(r.reason) {
			return yamlx.At(reasonNode, "rule %q: reason %q has control characters", r.name, r.reason)
		}
	case Allow:
		if statusNode != nil || reasonNode != nil {
			return yamlx.At(valueAt(node, "status", "reason"), "rule %q: status and reason apply only to action reject", r.name)
		}
	case "":
		return yamlx.At(valueAt(node), "rule %q: action is missing (reject or allow)", r.name)
	default:
		return yamlx.At(valueAt(node, "action"), "rule %q: action %q is not reject or allow", r.name, f.Action)
	}
	return nil
}

// checkRuleName accepts names made of letters, digits, '.', '_' and '-': they
// travel in SIP headers (Reason: ...;text="NAME"), metrics labels and logs.
func checkRuleName(name string, node ast.Node) error {
	if name == "" {
		return yamlx.At(node, "rule has no name")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return yamlx.At(node, "rule name %q: use only letters, digits, '.', '_' and '-'", name)
		}
	}
	switch name {
	case ruleDefault, ruleInvalidNumber, ruleRegistryError:
		return yamlx.At(node, "rule name %q is reserved for decisions no rule made", name)
	}
	return nil
}

// printable reports whether s is fit for a SIP status line: no control characters.
func printable(s string) bool {
	for _, c := range s {
		if c < ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// sipStatus is the SIP answer of a reject rule: an error class code, 400-699.
type sipStatus int

func (s *sipStatus) UnmarshalYAML(node ast.Node) error {
	var code int
	if err := yaml.NodeToValue(node, &code); err != nil {
		return yamlx.At(node, "status %s is not a number such as 603", node)
	}
	if code < 400 || code > 699 {
		return yamlx.At(node, "status %s is not a SIP error answer (400-699)", node)
	}
	*s = sipStatus(code)
	return nil
}

// matchSet is a rule's match: one condition per key, evaluated in the order written.
type matchSet []namedCondition

func (m *matchSet) UnmarshalYAML(node ast.Node) error {
	mapping, ok := node.(ast.MapNode)
	if !ok {
		return yamlx.At(node, "match: want conditions, one per line, e.g. listed: [internal]")
	}
	var set matchSet
	for it := mapping.MapRange(); it.Next(); {
		kind := it.Key().GetToken().Value
		parse, known := conditionKinds[kind]
		if !known {
			return yamlx.At(it.Key(), "unknown condition %q (known: %s)", kind, knownKinds())
		}
		cond, err := parse(it.Value())
		if err != nil {
			return err
		}
		set = append(set, namedCondition{kind: kind, condition: cond})
	}
	*m = set
	return nil
}

// field returns the value under key in a mapping node, or nil.
func field(node ast.Node, key string) ast.Node {
	mapping, ok := node.(ast.MapNode)
	if !ok {
		return nil
	}
	for it := mapping.MapRange(); it.Next(); {
		if it.Key().GetToken().Value == key {
			return it.Value()
		}
	}
	return nil
}

// valueAt returns the value of the first of keys present in the mapping, else
// the mapping's first key: the best place to point an error at.
func valueAt(node ast.Node, keys ...string) ast.Node {
	for _, k := range keys {
		if v := field(node, k); v != nil {
			return v
		}
	}
	if mapping, ok := node.(ast.MapNode); ok {
		if it := mapping.MapRange(); it.Next() {
			return it.Key()
		}
	}
	return node
}
