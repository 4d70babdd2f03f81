package sip

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// RFC 4475 §3.1.1.1 (wsinv): white space around "=", ";" and "/" in header
// parameters is valid and means nothing. sipgo's own parser keeps it in the
// names and values, so the From tag is missing and the To tag reads " 1918181833n".
func TestParserReadsParametersWithWhiteSpaceAroundSeparators(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(tortureDir(t), "valid", "wsinv.dat"))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := newParser().ParseSIP(data)
	if err != nil {
		t.Fatal(err)
	}
	req := msg.(*sip.Request)
	if tag, _ := req.From().Params.Get("tag"); tag != "98asjd8" {
		t.Errorf("From tag %q, want 98asjd8", tag)
	}
	if tag, _ := req.To().Params.Get("tag"); tag != "1918181833n" {
		t.Errorf("To tag %q, want 1918181833n", tag)
	}
	if req.To().Address.Host != "chair-dnrc.example.com" {
		t.Errorf("To host %q", req.To().Address.Host)
	}
	want := []struct{ transport, host, branch string }{
		{"UDP", "192.0.2.2", "390skdjuw"},
		{"TCP", "spindle.example.com", "z9hG4bK9ikj8"},
		{"UDP", "192.168.255.111", "z9hG4bK30239"},
	}
	vias := req.GetHeaders("Via")
	if len(vias) != len(want) {
		t.Fatalf("%d Vias, want %d: %v", len(vias), len(want), vias)
	}
	for i, h := range vias {
		v := h.(*sip.ViaHeader)
		branch, _ := v.Params.Get("branch")
		if v.Transport != want[i].transport || v.Host != want[i].host || branch != want[i].branch {
			t.Errorf("Via %d: %s %q branch %q, want %v", i, v.Transport, v.Host, branch, want[i])
		}
	}
	c := req.Contact()
	if v, _ := c.Params.Get("newparam"); v != "newvalue" {
		t.Errorf("Contact newparam %q, want newvalue", v)
	}
	if v, _ := c.Params.Get("q"); v != "0.33" {
		t.Errorf("Contact q %q, want 0.33", v)
	}
	if c.DisplayName != `Quoted string \"\"` {
		t.Errorf("Contact display name %q: a quoted string must stay as it is", c.DisplayName)
	}
}

func TestTidyLWSKeepsQuotedStringsAndOneSpaceBetweenWords(t *testing.T) {
	for in, want := range map[string]string{
		`"A  =  B \" ; " <sip:a@b> ; tag = 1`:        `"A  =  B \" ; " <sip:a@b>;tag=1`,
		"SIP  / 2.0\t/ TCP     h.example.com ; x":    "SIP/2.0/TCP h.example.com;x",
		"SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1": "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1",
		"J  Rosenberg <sip:j@example.com>":           "J Rosenberg <sip:j@example.com>",
		"<sip:a;lr> ,\t <sip:b ; lr>":                "<sip:a;lr>,\t <sip:b;lr>",
	} {
		if got, _ := tidyLWS(in); got != want {
			t.Errorf("tidyLWS(%q) = %q, want %q", in, got, want)
		}
	}
}

// The values after a comma come with the space after it, and may be untidy
// themselves: each is read whole, whatever the white space.
func TestParserReadsCommaSeparatedValues(t *testing.T) {
	msg := "SIP/2.0 200 OK\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa, SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKb,\t SIP / 2.0 / UDP 192.0.2.3 ; branch = z9hG4bKc\r\n" +
		"Record-Route: <sip:192.0.2.1;lr>,  <sip:192.0.2.2;lr>\r\n" +
		"From: <sip:a@192.0.2.9>;tag=1\r\nTo: <sip:b@192.0.2.8>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
	parsed, err := newParser().ParseSIP([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	res := parsed.(*sip.Response)
	vias := res.GetHeaders("Via")
	want := []struct{ host, branch string }{{"192.0.2.1", "z9hG4bKa"}, {"192.0.2.2", "z9hG4bKb"}, {"192.0.2.3", "z9hG4bKc"}}
	if len(vias) != len(want) {
		t.Fatalf("%d Vias, want %d: %v", len(vias), len(want), vias)
	}
	for i, h := range vias {
		v := h.(*sip.ViaHeader)
		if branch, _ := v.Params.Get("branch"); v.Host != want[i].host || branch != want[i].branch {
			t.Errorf("Via %d: %q branch %q, want %v", i, v.Host, branch, want[i])
		}
	}
	rr := res.GetHeaders("Record-Route")
	if len(rr) != 2 || rr[1].(*sip.RecordRouteHeader).Address.Host != "192.0.2.2" {
		t.Errorf("Record-Route: %v", rr)
	}
}

// untidy finds the spaces with strings.IndexByte; it answers as a check of
// every byte does, on every string of up to 7 bytes over an alphabet of
// white space, separators and letters.
func TestUntidyAnswersAsAByteByByteCheck(t *testing.T) {
	byBytes := func(text string) bool {
		for i := 0; i < len(text); i++ {
			switch {
			case text[i] == '\t':
				return true
			case text[i] != ' ':
			case i == 0 || i == len(text)-1, text[i+1] == ' ', isSeparator(text[i-1]) && text[i-1] != ',', isSeparator(text[i+1]):
				return true
			}
		}
		return false
	}
	const alphabet = " \t;=/,a"
	var walk func(prefix string)
	walk = func(prefix string) {
		if got, want := untidy(prefix), byBytes(prefix); got != want {
			t.Fatalf("untidy(%q) = %v, want %v", prefix, got, want)
		}
		if len(prefix) == 7 {
			return
		}
		for i := range len(alphabet) {
			walk(prefix + alphabet[i:i+1])
		}
	}
	walk("")
}
