package number

import (
	"errors"
	"strings"
	"testing"
)

// Normalize either refuses a number with ErrInvalid or gives an E.164
// number that normalizes to itself; a North American one splits into its
// exchange and line.
func FuzzNormalize(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw, region string) {
		got, err := Normalize(raw, region)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Normalize(%q, %q): %v does not wrap ErrInvalid", raw, region, err)
			}
			return
		}
		if len(got) < 2 || len(got) > 16 || got[0] != '+' || strings.Trim(got[1:], "0123456789") != "" {
			t.Fatalf("Normalize(%q, %q) = %q, not E.164", raw, region, got)
		}
		if again, err := Normalize(got, region); err != nil || again != got {
			t.Fatalf("Normalize(%q) = %q, %v; want it unchanged", got, again, err)
		}
		if strings.HasPrefix(got, "+1") {
			if _, _, ok := SplitNANP(got); !ok {
				t.Fatalf("Normalize(%q, %q) = %q, which SplitNANP refuses", raw, region, got)
			}
		}
	})
}
