// Package configs ships the example configuration; `gatekeeper serve` runs on
// these files when no --config is given.
package configs

import "embed"

// Files holds gatekeeper.yaml and policy.yaml as shipped.
//
//go:embed gatekeeper.yaml policy.yaml
var Files embed.FS
