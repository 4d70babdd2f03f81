package config

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// ByteSize reads a size in bytes: 1073741824, "1GiB", "512 MiB", "2GB".
type ByteSize int64

func (b *ByteSize) UnmarshalYAML(node ast.Node) error {
	s, err := yamlx.String(node)
	if err != nil {
		return err
	}
	n, err := humanize.ParseBytes(s)
	if err != nil || n > math.MaxInt64 {
		return yamlx.At(node, "%q is not a size such as 1GiB or 512MiB", s)
	}
	*b = ByteSize(n)
	return nil
}

// Forever is the Retention that keeps everything.
const Forever Retention = -1

// Retention reads how long files are kept: a number of days ("1826d") or
// "forever".
type Retention time.Duration

func (r *Retention) UnmarshalYAML(node ast.Node) error {
	s, err := yamlx.String(node)
	if err != nil {
		return err
	}
	if s == "forever" {
		*r = Forever
		return nil
	}
	days, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
	if err != nil || !strings.HasSuffix(s, "d") || days < 1 || days > 100*366 {
		return yamlx.At(node, "%q is not a number of days such as 1826d (5 years), or forever", s)
	}
	*r = Retention(time.Duration(days) * 24 * time.Hour)
	return nil
}
