package formats

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
)

// checkNumber fails t when a reader handed on a number no list could hold.
func checkNumber(t *testing.T, n Number) {
	t.Helper()
	if n.IsNANP() {
		if n.Line > 9999 || number.CheckExchange(n.Exchange) != nil {
			t.Fatalf("read %06d-%04d, not a North American number", n.Exchange, n.Line)
		}
		return
	}
	if got, err := number.Normalize(n.E164, ""); err != nil || got != n.E164 {
		t.Fatalf("read %q, not E.164", n.E164)
	}
}

// checkError fails t when a reader's error does not name the file.
func checkError(t *testing.T, err error) {
	t.Helper()
	if err != nil && !strings.HasPrefix(err.Error(), "f.csv") {
		t.Fatalf("the error does not name the file: %v", err)
	}
}

// A DNC list (or a port list, read as plain) in any format, given or
// recognized: every number read is one a list can hold, and every error
// names the file.
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, format uint8, data []byte) {
		opts := Options{Format: append([]Format{""}, Formats...)[int(format)%(len(Formats)+1)]}
		_, err := Read(bytes.NewReader(data), "f.csv", opts, Sink{Record: func(r Record) error {
			checkNumber(t, r.Number)
			return nil
		}})
		checkError(t, err)
	})
}

// A blocks file, CSV or VICIdial's prefix file.
func FuzzReadBlocks(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ReadBlocks(bytes.NewReader(data), "f.csv", nil, func(b Block) error {
			if number.CheckExchange(b.Exchange) != nil || b.X < -1 || b.X > 9 {
				t.Fatalf("read block %+v", b)
			}
			return nil
		})
		checkError(t, err)
	})
}

// A consent file.
func FuzzReadConsents(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkError(t, ReadConsents(bytes.NewReader(data), "f.csv", nil, func(c Consent) error {
			checkNumber(t, c.Number)
			if c.GrantedAt.IsZero() || (c.Kind != "express" && c.Kind != "written") {
				t.Fatalf("read consent %+v", c)
			}
			return nil
		}))
	})
}

// A file of Reassigned Numbers Database answers.
func FuzzReadRND(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkError(t, ReadRND(bytes.NewReader(data), "f.csv", nil, func(a RNDAnswer) error {
			checkNumber(t, a.Number)
			if a.AskedOn.IsZero() || (a.Answer != "yes" && a.Answer != "no" && a.Answer != "no_data") {
				t.Fatalf("read answer %+v", a)
			}
			return nil
		}))
	})
}

// An exemptions (EBR) file.
func FuzzReadExemptions(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkError(t, ReadExemptions(bytes.NewReader(data), "f.csv", nil, func(e Exemption) error {
			checkNumber(t, e.Number)
			if e.Date.IsZero() || (e.Kind != "purchase" && e.Kind != "inquiry" && e.Kind != "permission") {
				t.Fatalf("read exemption %+v", e)
			}
			return nil
		}))
	})
}
