package sip

import "testing"

// A carrier port past 65535 is refused, not wrapped around to another port.
func TestParseCarrierRefusesPortsThatDoNotExist(t *testing.T) {
	if hop, err := parseCarrier("sip:127.0.0.1:99999", "udp"); err == nil {
		t.Fatalf("port 99999 accepted as %s", hop.addr)
	}
	if hop, err := parseCarrier("sip:127.0.0.1:5070", "udp"); err != nil || hop.addr != "127.0.0.1:5070" {
		t.Fatalf("sip:127.0.0.1:5070: %v %v", hop, err)
	}
}
