package main

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestHostListensReplaceUnspecifiedAddresses(t *testing.T) {
	addrs := []net.Addr{
		&net.IPNet{IP: net.ParseIP("127.0.0.1")}, &net.IPNet{IP: net.ParseIP("fe80::1")},
		&net.IPNet{IP: net.ParseIP("172.17.0.2")}, &net.IPNet{IP: net.ParseIP("2001:db8::2")},
	}
	if ip, ok := firstHostAddr(addrs, true); !ok || ip != netip.MustParseAddr("172.17.0.2") {
		t.Errorf("IPv4: %v %v", ip, ok)
	}
	if ip, ok := firstHostAddr(addrs, false); !ok || ip != netip.MustParseAddr("2001:db8::2") {
		t.Errorf("IPv6: %v %v", ip, ok)
	}
	if _, ok := firstHostAddr(addrs[:2], true); ok {
		t.Error("loopback taken as the host's address")
	}

	got, err := hostListens([]string{"udp://127.0.0.1:5060", "tcp://0.0.0.0:5061"})
	if err != nil {
		t.Skipf("this machine has no IPv4 address besides loopback: %v", err)
	}
	if got[0] != "udp://127.0.0.1:5060" || strings.HasPrefix(got[1], "tcp://0.0.0.0") || !strings.HasSuffix(got[1], ":5061") {
		t.Errorf("hostListens: %v", got)
	}
}
