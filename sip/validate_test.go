package sip

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// tortureDir is RFC 4475's message set as shipped in sipgo's module.
func tortureDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/emiago/sipgo").Output()
	if err != nil {
		t.Fatalf("locating sipgo's module: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "sip", "testdata", "torture")
}

// The invalid RFC 4475 messages that sipgo's parser accepts must still be
// refused by the proxy before anything is forwarded, with the RFC's answer.
func TestTortureInvalidRequestsAreRefused(t *testing.T) {
	want := map[string]int{
		"badvers":    505, // SIP/7.0
		"insuf":      400, // missing Call-ID, From, To...
		"mismatch01": 400, // CSeq method differs from the request's
		"unkscm":     416, // nobodyKnowsThisScheme: URI
		"zeromf":     483, // Max-Forwards: 0
		"clerr":      400, // Content-Length larger than the body
		"mcl01":      400, // several Content-Length values
		"multi01":    400, // several To headers
	}
	parser := newParser()
	dir := filepath.Join(tortureDir(t), "invalid")
	for name, status := range want {
		data, err := os.ReadFile(filepath.Join(dir, name+".dat"))
		if err != nil {
			t.Fatal(err)
		}
		msg, err := parser.ParseSIP(data)
		if err != nil {
			continue // the parser drops it already
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			t.Fatalf("%s is not a request", name)
		}
		rej := validate(req)
		if rej == nil {
			t.Errorf("%s: accepted, want %d", name, status)
		} else if rej.status != status {
			t.Errorf("%s: %d %s, want %d", name, rej.status, rej.reason, status)
		}
	}
}

func TestTortureValidRequestsPass(t *testing.T) {
	parser := newParser()
	files, _ := filepath.Glob(filepath.Join(tortureDir(t), "valid", "*.dat"))
	if len(files) == 0 {
		t.Fatal("no torture messages found")
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		msg, err := parser.ParseSIP(data)
		if err != nil {
			continue
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			continue
		}
		if rej := validate(req); rej != nil {
			t.Errorf("%s: refused a valid request with %d %s", filepath.Base(f), rej.status, rej.reason)
		}
	}
}

func TestProxyRequireGets420NamingTheExtensions(t *testing.T) {
	req := mustParse(t, "INVITE sip:2025550143@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5080;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nFrom: <sip:a@127.0.0.2>;tag=1\r\nTo: <sip:2025550143@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nProxy-Require: foo\r\nContent-Length: 0\r\n\r\n")
	rej := validate(req)
	if rej == nil || rej.status != 420 || len(rej.hdrs) != 1 || rej.hdrs[0].Value() != "foo" {
		t.Fatalf("got %+v", rej)
	}
}

func mustParse(t *testing.T, text string) *sip.Request {
	t.Helper()
	msg, err := newParser().ParseSIP([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return msg.(*sip.Request)
}
