package e2e

import (
	"fmt"
	"regexp"
	"testing"
)

// recordRoutes lists the Record-Route values of the first INVITE in a SIPp
// trace, each as withoutSeal gives it.
func recordRoutes(trace string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^Record-Route: (.*?)\r?$`).FindAllStringSubmatch(messageOf(trace, "INVITE "), -1) {
		out = append(out, withoutSeal(m[1]))
	}
	return out
}

var seal = regexp.MustCompile(`;gk-dlg=[A-Za-z0-9_-]+`)

// withoutSeal is a Record-Route entry without the dialog's seal (gk-dlg,
// which differs per call), or marked "unsealed" when it has none.
func withoutSeal(rr string) string {
	if !seal.MatchString(rr) {
		return "unsealed " + rr
	}
	return seal.ReplaceAllString(rr, "")
}

// A dialer and a carrier both on IPv6 talk through the gatekeeper's IPv6
// address, which is the only one they see.
func TestIPv6DialerAndCarrier(t *testing.T) {
	g := newGatekeeper(t)
	g.useIPv6(true)
	g.start()
	carrier := g.carrier("uas.xml", 1)
	g.dial("::1", "uac.xml", cleanNumber).mustPass()
	carrier.mustPass()
	want := fmt.Sprintf("<sip:[::1]:%d;transport=udp;lr>", g.port6)
	if got := recordRoutes(carrier.messages()); len(got) != 1 || got[0] != want {
		t.Errorf("the carrier's Record-Route is %q, want [%s]\n%s", got, want, carrier.messages())
	}
	if inv := messageOf(carrier.messages(), "INVITE "); !regexp.MustCompile(fmt.Sprintf(`(?m)^Via: SIP/2.0/UDP \[::1\]:%d;`, g.port6)).MatchString(inv) {
		t.Errorf("the carrier's INVITE does not name our IPv6 address in its top Via:\n%s", inv)
	}
}

// A dialer on IPv6 over TCP and a carrier on IPv4 over UDP: each side gets a
// Record-Route entry in its own family and transport, and ACK and BYE follow
// the route set through both.
func TestIPv6TCPDialerAndIPv4Carrier(t *testing.T) {
	g := newGatekeeper(t)
	g.useIPv6(false)
	g.start()
	carrier := g.carrier("uas.xml", 1)
	g.dial("::1", "uac.xml", cleanNumber, "-t", "t1").mustPass()
	carrier.mustPass()
	want := []string{
		fmt.Sprintf("<sip:%s:%d;transport=udp;lr>", carrierIP, g.port),
		fmt.Sprintf("<sip:[::1]:%d;transport=tcp;lr>", g.port6),
	}
	if got := recordRoutes(carrier.messages()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the carrier's Record-Route is %q, want %q", got, want)
	}
}
