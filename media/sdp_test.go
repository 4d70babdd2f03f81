package media

import (
	"net/netip"
	"strings"
	"testing"
)

func crlf(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n") + "\r\n") }

var relayAddr = netip.MustParseAddr("192.0.2.1")

func TestRewriteKeepsWhatItDoesNotAnchor(t *testing.T) {
	offer := crlf(
		"v=0",
		"o=dialer 53655765 2353687637 IN IP4 10.1.1.5",
		"s=-",
		"c=IN IP4 10.1.1.5",
		"t=0 0",
		"m=audio 49170 RTP/AVP 0 8 101",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-15",
		"a=rtcp:49171",
		"a=ptime:20",
		"a=sendrecv",
		"m=video 0 RTP/AVP 31",
	)
	d, err := parseSDP(offer)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(*pionSDP); !ok {
		t.Fatalf("an SDP in RFC 4566 order was read line by line, not by pion/sdp")
	}
	want := []streamDesc{{port: 49170, addr: netip.MustParseAddr("10.1.1.5"), rtcp: 49171, audio: true}, {port: 0, addr: netip.MustParseAddr("10.1.1.5")}}
	if got := d.streams(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("streams = %+v, want %+v", got, want)
	}
	out, err := d.rewrite(relayAddr, []int{30000, 0})
	if err != nil {
		t.Fatal(err)
	}
	wantOut := strings.NewReplacer(
		"c=IN IP4 10.1.1.5", "c=IN IP4 192.0.2.1",
		"m=audio 49170", "m=audio 30000",
		"a=rtcp:49171", "a=rtcp:30001",
	).Replace(string(offer))
	if string(out) != wantOut {
		t.Fatalf("rewritten:\n%s\nwant:\n%s", out, wantOut)
	}
}

// pion/sdp refuses a c= after t= (RFC 4566 §5 order); such an SDP is
// rewritten line by line, every other byte kept, unknown lines included.
func TestRewriteRefusedSDPLineByLine(t *testing.T) {
	offer := []byte("v=0\r\n" +
		"o=- 1 1 IN IP4 10.1.1.5\r\n" +
		"s=call\r\n" +
		"t=0 0\r\n" +
		"c=IN IP4 10.1.1.5\r\n" +
		"x-vendor=keep me   exactly\r\n" +
		"m=audio 49170/2 RTP/AVP 0\r\n" +
		"a=rtcp:53020 IN IP4 10.1.1.6\r\n" +
		"m=audio 40000 RTP/AVP 8\n" + // a bare LF stays a bare LF
		"c=IN IP4 0.0.0.0\r\n" +
		"a=sendonly\r\n")
	d, err := parseSDP(offer)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(*lineSDP); !ok {
		t.Fatalf("pion/sdp took an SDP with c= after t=: the fallback is untested here")
	}
	got := d.streams()
	want := []streamDesc{
		{port: 49170, addr: netip.MustParseAddr("10.1.1.5"), rtcp: 53020, audio: true},
		{port: 40000, addr: netip.IPv4Unspecified(), audio: true},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("streams = %+v, want %+v", got, want)
	}
	out, err := d.rewrite(relayAddr, []int{30000, 30004})
	if err != nil {
		t.Fatal(err)
	}
	wantOut := "v=0\r\n" +
		"o=- 1 1 IN IP4 10.1.1.5\r\n" +
		"s=call\r\n" +
		"t=0 0\r\n" +
		"c=IN IP4 192.0.2.1\r\n" +
		"x-vendor=keep me   exactly\r\n" +
		"m=audio 30000/2 RTP/AVP 0\r\n" +
		"a=rtcp:30001 IN IP4 192.0.2.1\r\n" +
		"m=audio 30004 RTP/AVP 8\n" +
		"c=IN IP4 0.0.0.0\r\n" +
		"a=sendonly\r\n"
	if string(out) != wantOut {
		t.Fatalf("rewritten:\n%q\nwant:\n%q", out, wantOut)
	}
}

// Hold (RFC 3264 §8.4): a=sendonly and a=inactive pass as they are; a
// c=0.0.0.0 stays, so the other side still sees the hold, and its m= port
// is still anchored.
func TestRewriteHoldForms(t *testing.T) {
	for _, hold := range []string{"a=sendonly", "a=inactive", "a=recvonly"} {
		offer := crlf("v=0", "o=- 1 2 IN IP4 10.1.1.5", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 49170 RTP/AVP 0", hold)
		d, err := parseSDP(offer)
		if err != nil {
			t.Fatal(err)
		}
		if s := d.streams(); !s[0].addr.IsUnspecified() {
			t.Fatalf("%s: c=0.0.0.0 read as %v", hold, s[0].addr)
		}
		out, err := d.rewrite(relayAddr, []int{30000})
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Replace(string(offer), "m=audio 49170", "m=audio 30000", 1)
		if string(out) != want {
			t.Fatalf("%s: rewritten:\n%s\nwant:\n%s", hold, out, want)
		}
	}
}

func TestRewriteIPv6Relay(t *testing.T) {
	offer := crlf("v=0", "o=- 1 2 IN IP4 10.1.1.5", "s=-", "c=IN IP4 10.1.1.5", "t=0 0", "m=audio 49170 RTP/AVP 0")
	d, err := parseSDP(offer)
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.rewrite(netip.MustParseAddr("2001:db8::1"), []int{30000})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "\r\nc=IN IP6 2001:db8::1\r\n") {
		t.Fatalf("rewritten:\n%s", out)
	}
}

func TestParseRefusesWhatIsNotSDP(t *testing.T) {
	for _, body := range []string{
		"hello",
		"v=0\r\nm=audio x RTP/AVP 0\r\n",
		"v=0\r\nm=audio 70000 RTP/AVP 0\r\n",
		"v=0\r\nt=0 0\r\nc=IN\r\n",
	} {
		if _, err := parseSDP([]byte(body)); err == nil {
			t.Errorf("%q was taken as an SDP", body)
		}
	}
}

func BenchmarkRewriteSDP(b *testing.B) {
	offer := crlf("v=0", "o=dialer 1 2 IN IP4 10.1.1.5", "s=-", "c=IN IP4 10.1.1.5", "t=0 0",
		"m=audio 49170 RTP/AVP 0 8 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=ptime:20")
	b.ReportAllocs()
	for b.Loop() {
		d, err := parseSDP(offer)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.rewrite(relayAddr, []int{30000}); err != nil {
			b.Fatal(err)
		}
	}
}
