package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// warning is a doubt about a policy that loads: a rule that can never decide.
type warning struct {
	node ast.Node
	msg  string
}

// Warnings lists the doubts Parse had about the file, each as
// FILE:LINE:COLUMN: warning: what. A policy with warnings still runs.
func (e *Engine) Warnings() []string {
	out := make([]string, 0, len(e.warnings))
	for _, w := range e.warnings {
		pos := w.node.GetToken().Position
		out = append(out, fmt.Sprintf("%s:%d:%d: warning: %s", e.name, pos.Line, pos.Column, w.msg))
	}
	return out
}

// warnUnreachable flags rules that can never decide: one after a catch-all,
// and one whose match repeats every condition of an earlier rule (that rule
// matches first whenever this one would). Monitor rules do not stop the
// evaluation, so they shadow nothing.
func (p *parser) warnUnreachable(rules []rule) {
	for i := range rules {
		later := &rules[i]
		for j := range i {
			earlier := &rules[j]
			if earlier.monitor || !conditionsWithin(earlier.match, later.match) {
				continue
			}
			what := fmt.Sprintf("rule %q at line %d matches every call this one matches", earlier.name, earlier.node.GetToken().Position.Line)
			if len(earlier.match) == 0 {
				what = fmt.Sprintf("rule %q at line %d takes every call", earlier.name, earlier.node.GetToken().Position.Line)
			}
			p.warnings = append(p.warnings, warning{valueAt(later.node, "name"),
				fmt.Sprintf("rule %q is unreachable: %s", later.name, what)})
			break
		}
	}
}

// conditionsWithin reports whether every condition of a appears, as written, in b.
func conditionsWithin(a, b []namedCondition) bool {
	for _, ca := range a {
		if !slices.ContainsFunc(b, func(cb namedCondition) bool { return cb.kind == ca.kind && cb.text == ca.text }) {
			return false
		}
	}
	return true
}

// Lists returns the names declared under lists:, for checks against the registry.
func (e *Engine) Lists() []string { return slices.Clone(e.lists) }

// CheckList returns an error naming the declared lists when the policy
// does not declare name under lists: (a misspelled --list would otherwise
// make a list no rule reads, and the opt-outs on it would stop no call).
func (e *Engine) CheckList(name string) error {
	if slices.Contains(e.lists, name) {
		return nil
	}
	return fmt.Errorf("list %q is not declared under lists: in %s (declared: %s), so no rule reads it",
		name, e.name, strings.Join(slices.Sorted(slices.Values(e.lists)), ", "))
}

// RuleNames returns the rules' names, in the policy's order.
func (e *Engine) RuleNames() []string {
	names := make([]string, len(e.rules))
	for i, r := range e.rules {
		names[i] = r.name
	}
	return names
}
