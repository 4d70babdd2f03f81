package sip

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// A carrier port past 65535 is refused, not wrapped around to another port.
func TestParseCarrierRefusesPortsThatDoNotExist(t *testing.T) {
	if hop, err := parseCarrier("sip:127.0.0.1:99999", "udp"); err == nil {
		t.Fatalf("port 99999 accepted as %s", hop.addr)
	}
	if hop, err := parseCarrier("sip:127.0.0.1:5070", "udp"); err != nil || hop.addr != "127.0.0.1:5070" {
		t.Fatalf("sip:127.0.0.1:5070: %v %v", hop, err)
	}
}

// A sips: carrier, or one with ;transport=tls, is reached over TLS, on port
// 5061 when the URI names none (RFC 3261 §19.1.2, §26.2.2).
func TestParseCarrierOverTLS(t *testing.T) {
	for uri, want := range map[string]carrierHop{
		"sips:127.0.0.1":                   {addr: "127.0.0.1:5061", transport: "tls"},
		"sips:127.0.0.1:5071":              {addr: "127.0.0.1:5071", transport: "tls"},
		"sip:127.0.0.1;transport=tls":      {addr: "127.0.0.1:5061", transport: "tls"},
		"sip:[::1]:5071;transport=TLS":     {addr: "[::1]:5071", transport: "tls"},
		"sip:127.0.0.1":                    {addr: "127.0.0.1:5060", transport: "udp"},
		"sip:127.0.0.1:5070;transport=tcp": {addr: "127.0.0.1:5070", transport: "tcp"},
	} {
		hop, err := parseCarrier(uri, "udp")
		if err != nil || hop.addr != want.addr || hop.transport != want.transport {
			t.Errorf("%s: %+v %v, want %s over %s", uri, hop, err, want.addr, want.transport)
		}
	}
}

// A UDP listener asks for udpReadBuffer bytes of receive buffer, and gets
// what net.core.rmem_max allows (Linux reports twice what was set).
func TestUDPListenerHasALargeReceiveBuffer(t *testing.T) {
	raw, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Skip("no /proc/sys/net/core/rmem_max:", err)
	}
	rmemMax, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	uc, err := listenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	rc, err := uc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	rc.Control(func(fd uintptr) { got, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF) })
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * min(udpReadBuffer, rmemMax); got < want {
		t.Errorf("receive buffer %d bytes, want %d (rmem_max %d)", got, want, rmemMax)
	}
}
