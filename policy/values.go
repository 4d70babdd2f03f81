package policy

import (
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// Value readers shared by the condition kinds; each error names the node.

// stringList reads a non-empty sequence of non-empty strings, e.g. [internal, ftc].
func stringList(node ast.Node, what, example string) ([]string, []ast.Node, error) {
	seq, ok := node.(*ast.SequenceNode)
	if !ok || len(seq.Values) == 0 {
		return nil, nil, yamlx.At(node, "%s: want a list, e.g. %s", what, example)
	}
	out := make([]string, 0, len(seq.Values))
	for _, item := range seq.Values {
		s, err := yamlx.String(item)
		if err != nil {
			return nil, nil, err
		}
		if s == "" {
			return nil, nil, yamlx.At(item, "%s: empty name", what)
		}
		out = append(out, s)
	}
	return out, seq.Values, nil
}

// period reads a length of time: Go durations (90m, 24h) or whole days (31d).
func period(node ast.Node, what string) (time.Duration, error) {
	s, err := yamlx.String(node)
	if err != nil {
		return 0, err
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, convErr := strconv.Atoi(days)
		d, err = time.Duration(n)*24*time.Hour, convErr
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, yamlx.At(node, "%s: %q is not a length of time such as 31d, 24h or 90m", what, s)
	}
	return d, nil
}

// byState tells whether a condition's value is the word by_state: take the
// figures from the states table entry of the called number's state.
func byState(node ast.Node) bool {
	s, ok := node.(*ast.StringNode)
	return ok && s.Value == "by_state"
}
