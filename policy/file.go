package policy

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// policyFile is the policy file as written. Every value is checked while it is
// decoded, so that each error names the line and column it is about. The
// sections are read in the order they depend on each other (lists, holidays
// and states before the rules that name them), whatever their order in the file.
type policyFile struct {
	mode    string
	onError failModes
	parser
	rules    []rule
	hasRules bool
}

// parser holds what the rules may refer to, and what they ask of the engine.
type parser struct {
	lists     map[string]ast.Node // declared list name → where it was declared
	calendars map[string]*calendar
	states    map[string]*stateRules
	// counters maps each attempt-counter scope the rules read to the longest
	// window any of them looks back: how long Forwarded keeps an attempt.
	counters map[counterScope]time.Duration
	// counterMost holds each scope's highest limit: the most attempts worth keeping.
	counterMost map[counterScope]int
	// warnings are doubts about the file that do not stop it from loading.
	warnings []warning
}

// topLevelKeys are the sections of a policy file, in the order they are read.
var topLevelKeys = []string{"mode", "on_error", "lists", "holidays", "states", "rules"}

func (f *policyFile) UnmarshalYAML(node ast.Node) error {
	mapping, ok := node.(ast.MapNode)
	if !ok {
		return yamlx.At(node, "a policy file is a mapping with mode, lists, rules, ...")
	}
	for it := mapping.MapRange(); it.Next(); {
		if key := it.Key().GetToken().Value; !slices.Contains(topLevelKeys, key) {
			return yamlx.At(it.Key(), "unknown field %q (known: %s)", key, strings.Join(topLevelKeys, ", "))
		}
	}
	f.mode = modeEnforce
	if v := field(node, "mode"); v != nil {
		s, err := yamlx.String(v)
		if err != nil {
			return err
		}
		if s != modeEnforce && s != modeMonitor {
			return yamlx.At(v, "mode %q is not enforce or monitor", s)
		}
		f.mode = s
	}
	var err error
	if f.onError, err = parseFailModes(field(node, "on_error")); err != nil {
		return err
	}
	f.parser = parser{counters: map[counterScope]time.Duration{}, counterMost: map[counterScope]int{}}
	if err := f.parseLists(field(node, "lists")); err != nil {
		return err
	}
	if f.calendars, err = parseCalendars(field(node, "holidays")); err != nil {
		return err
	}
	if f.states, err = f.parseStates(field(node, "states")); err != nil {
		return err
	}
	rules := field(node, "rules")
	if rules == nil {
		return nil
	}
	f.hasRules = true
	f.rules, err = f.parseRules(rules)
	return err
}

const (
	modeEnforce = "enforce"
	modeMonitor = "monitor" // decide and log, but forward every call
)

// Names of decisions that no rule of the file made; rules may not take them.
const (
	ruleDefault       = "default"
	ruleInvalidNumber = "invalid-number"
	ruleRegistryError = "registry-error"
)

// listNamePattern is the registry's rule for list names.
var listNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// parseLists reads the lists section: every list a rule names must be
// declared, so that a misspelt name is an error, not a list that never holds.
//
//	lists:
//	  internal: the company's own Do-Not-Call list
func (p *parser) parseLists(node ast.Node) error {
	p.lists = map[string]ast.Node{}
	if node == nil {
		return nil
	}
	mapping, ok := node.(ast.MapNode)
	if !ok {
		return yamlx.At(node, "lists: want one line per list, NAME: what it holds")
	}
	for it := mapping.MapRange(); it.Next(); {
		name := it.Key().GetToken().Value
		if !listNamePattern.MatchString(name) {
			return yamlx.At(it.Key(), "list name %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
		}
		p.lists[name] = it.Key()
	}
	return nil
}

// list checks that a list named in a condition is declared.
func (p *parser) list(node ast.Node, name string) error {
	if _, ok := p.lists[name]; ok {
		return nil
	}
	return yamlx.At(node, "list %q is not declared under lists: (declared: %s)", name, strings.Join(slices.Sorted(maps.Keys(p.lists)), ", "))
}

// rule is one checked rule of the policy.
type rule struct {
	name       string
	node       ast.Node         // the rule's mapping, for warnings
	match      []namedCondition // all must hold; empty matches every call
	action     Action
	monitor    bool   // a matching reject is logged, not enforced, and the next rules run
	status     int    // for reject
	reason     string // for reject
	retryAfter int    // for reject, seconds; 0 for none
}

func (p *parser) parseRules(node ast.Node) ([]rule, error) {
	seq, ok := node.(*ast.SequenceNode)
	if !ok {
		return nil, yamlx.At(node, "rules: want a list of rules")
	}
	rules := make([]rule, 0, len(seq.Values))
	firstUse := make(map[string]ast.Node, len(seq.Values))
	for _, item := range seq.Values {
		r, err := p.parseRule(item)
		if err != nil {
			return nil, err
		}
		if first, dup := firstUse[r.name]; dup {
			return nil, yamlx.At(valueAt(item, "name"), "rule name %q is already used at line %d", r.name, first.GetToken().Position.Line)
		}
		firstUse[r.name] = valueAt(item, "name")
		rules = append(rules, r)
	}
	p.warnUnreachable(rules)
	return rules, nil
}

// anyNode keeps a YAML value as written, for sections parsed with the parser's context.
type anyNode struct{ ast.Node }

func (n *anyNode) UnmarshalYAML(node ast.Node) error { n.Node = node; return nil }

func (p *parser) parseRule(node ast.Node) (rule, error) {
	var r rule
	if _, ok := node.(ast.MapNode); !ok {
		return r, yamlx.At(node, "a rule is a mapping with name, match and action")
	}
	var f struct {
		Name       string    `yaml:"name"`
		Match      anyNode   `yaml:"match"`
		Action     string    `yaml:"action"`
		Monitor    bool      `yaml:"monitor"`
		Status     sipStatus `yaml:"status"`
		Reason     string    `yaml:"reason"`
		RetryAfter int       `yaml:"retry_after"`
	}
	if err := yaml.NodeToValue(node, &f, yaml.DisallowUnknownField()); err != nil {
		return r, err
	}
	if err := checkRuleName(f.Name, valueAt(node, "name")); err != nil {
		return r, err
	}
	r.name, r.node, r.action, r.monitor = f.Name, node, Action(f.Action), f.Monitor
	if m := field(node, "match"); m != nil {
		var err error
		if r.match, err = p.parseMatch(r.name, m); err != nil {
			return r, err
		}
	}
	statusNode, reasonNode, retryNode := field(node, "status"), field(node, "reason"), field(node, "retry_after")
	switch r.action {
	case Reject:
		r.status, r.reason, r.retryAfter = int(f.Status), f.Reason, f.RetryAfter
		if r.status == 0 { // sipStatus refuses 0, so 0 means not given
			r.status = 603
		}
		if r.reason == "" {
			r.reason = reasonPhrases[r.status]
		}
		if r.reason == "" {
			return r, yamlx.At(statusNode, "rule %q: status %d has no standard reason phrase; give one with reason:", r.name, r.status)
		}
		if !printable(r.reason) {
			return r, yamlx.At(reasonNode, "rule %q: reason %q has control characters", r.name, r.reason)
		}
		if r.retryAfter < 0 {
			return r, yamlx.At(retryNode, "rule %q: retry_after is seconds, 0 or more", r.name)
		}
	case Allow:
		if statusNode != nil || reasonNode != nil || retryNode != nil {
			return r, yamlx.At(valueAt(node, "status", "reason", "retry_after"), "rule %q: status, reason and retry_after apply only to action reject", r.name)
		}
		if f.Monitor {
			return r, yamlx.At(valueAt(node, "monitor"), "rule %q: monitor applies only to action reject", r.name)
		}
	case "":
		return r, yamlx.At(valueAt(node), "rule %q: action is missing (reject or allow)", r.name)
	default:
		return r, yamlx.At(valueAt(node, "action"), "rule %q: action %q is not reject or allow", r.name, f.Action)
	}
	return r, nil
}

// parseMatch reads a rule's match: one condition per key, evaluated in the order written.
func (p *parser) parseMatch(ruleName string, node ast.Node) ([]namedCondition, error) {
	if node.Type() == ast.NullType {
		// An empty match would silently take every call; a catch-all leaves match out.
		return nil, yamlx.At(node, "rule %q: match has no conditions; leave match out for a rule that takes every call", ruleName)
	}
	mapping, ok := node.(ast.MapNode)
	if !ok {
		return nil, yamlx.At(node, "match: want conditions, one per line, e.g. listed: [internal]")
	}
	var set []namedCondition
	for it := mapping.MapRange(); it.Next(); {
		kind := it.Key().GetToken().Value
		parse, known := conditionKinds[kind]
		if !known {
			return nil, yamlx.At(it.Key(), "unknown condition %q (known: %s)", kind, knownKinds())
		}
		cond, err := parse(p, it.Value())
		if err != nil {
			return nil, err
		}
		set = append(set, namedCondition{kind: kind, text: it.Value().String(), condition: cond})
	}
	if len(set) == 0 {
		return nil, yamlx.At(node, "rule %q: match has no conditions; leave match out for a rule that takes every call", ruleName)
	}
	return set, nil
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
