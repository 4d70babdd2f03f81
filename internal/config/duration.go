package config

import (
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// Duration reads Go durations such as "30s" or "2m".
type Duration time.Duration

func (d *Duration) UnmarshalYAML(node ast.Node) error {
	s, err := yamlx.String(node)
	if err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return yamlx.At(node, "%q is not a duration such as 30s or 2m", s)
	}
	*d = Duration(v)
	return nil
}
