package policy

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A policy file either loads or is refused with an error that names
// p.yaml; one that loads decides a call without panicking, with a status
// that is a SIP final answer when it rejects.
func FuzzParse(f *testing.F) {
	reg := newMemRegistry(nil)
	call := Call{CallID: "fuzz", Called: "+12025550143", Caller: "+13125550100", Time: time.Date(2026, 11, 20, 17, 0, 0, 0, time.UTC), Automated: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse("p.yaml", data, reg)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "p.yaml") {
				t.Fatalf("the error does not name the file: %v", err)
			}
			return
		}
		d := e.Decide(context.Background(), call)
		if d.Action == Reject && (d.Status < 400 || d.Status > 699) {
			t.Fatalf("a reject with status %d", d.Status)
		}
		e.Freshness()
	})
}
