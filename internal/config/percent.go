package config

import (
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// Percent reads a percentage from 0% to 100%, such as "10%", as a share from 0 to 1.
type Percent float64

func (p *Percent) UnmarshalYAML(node ast.Node) error {
	s, err := yamlx.String(node)
	if err != nil {
		return yamlx.At(node, "want a percentage such as 10%%")
	}
	digits, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(digits), 64)
	if !ok || err != nil || v < 0 || v > 100 {
		return yamlx.At(node, "%q is not a percentage from 0%% to 100%%, such as 10%%", s)
	}
	*p = Percent(v / 100)
	return nil
}
