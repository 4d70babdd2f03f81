package policy

import (
	"context"
	"testing"
)

func TestOnErrorFailModes(t *testing.T) {
	reg := newMemRegistry(nil)
	reg.err = context.DeadlineExceeded
	src := "on_error: {automated: allow, manual: reject, retry_after: 5}\nlists: {internal: x}\nrules:\n  - name: r\n    match:\n      listed: [internal]\n    action: reject\n"
	e := mustParse(t, src, reg)
	c := call("+12125550143")
	if d := e.Decide(context.Background(), c); d.Action != Allow || d.Rule != "registry-error" || d.Error == "" {
		t.Errorf("automated, fail open: %+v", d)
	}
	c.Automated = false
	if d := e.Decide(context.Background(), c); d.Action != Reject || d.Status != 503 || d.RetryAfter != 5 {
		t.Errorf("manual, fail closed: %+v", d)
	}
}
