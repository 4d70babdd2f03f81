package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// Off a terminal, an import's progress is a line every few seconds and one
// as each phase completes, however many reports it makes at 100 % (the
// read phase goes on reporting while the numbers it read are counted).
func TestImportProgressLinesOffATerminal(t *testing.T) {
	var out bytes.Buffer
	v := newProgressView(&out)
	for _, p := range []registry.Progress{
		{Phase: "read", Done: 10, Total: 100, Numbers: 1},
		{Phase: "read", Done: 60, Total: 100, Numbers: 500},
		{Phase: "read", Done: 100, Total: 100, Numbers: 990},
		{Phase: "read", Done: 100, Total: 100, Numbers: 1000},
		{Phase: "read", Done: 100, Total: 100, Numbers: 1000},
		{Phase: "write", Done: 5, Total: 10, Numbers: 1000},
		{Phase: "write", Done: 10, Total: 10, Numbers: 1000},
		{Phase: "write", Done: 10, Total: 10, Numbers: 1000},
	} {
		p.Elapsed = time.Second
		v.show(p)
	}
	v.end()
	want := []string{
		"import: read 10%, 1 numbers (0.00 M/s), ETA 9s",
		"import: read 100%, 990 numbers (0.00 M/s)",
		"import: write 100%, 1000 numbers (0.00 M/s)",
	}
	if got := strings.Split(strings.TrimSpace(out.String()), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("progress lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
