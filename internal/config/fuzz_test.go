package config

import (
	"strings"
	"testing"
)

// A config file either loads or is refused with an error that names
// gk.yaml (and, for what the file says, its line and column); it never
// panics.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("gk.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "gk.yaml") {
				t.Fatalf("the error does not name the file: %v", err)
			}
			return
		}
		if len(cfg.SIP.Listen) == 0 || cfg.SIP.Carrier == "" || cfg.Policy == "" {
			t.Fatalf("a config without listen, carrier or policy loaded: %+v", cfg.SIP)
		}
	})
}
