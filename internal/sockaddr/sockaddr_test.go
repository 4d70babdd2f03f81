package sockaddr

import (
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readBack is what recvfrom would report for a destination For made.
func readBack(a Inet) netip.AddrPort {
	var sa unix.RawSockaddrAny
	copy((*[unix.SizeofSockaddrAny]byte)(unsafe.Pointer(&sa))[:], (*[unix.SizeofSockaddrInet6]byte)(a.Pointer())[:a.Len()])
	return AddrPort(&sa)
}

func TestForAndAddrPort(t *testing.T) {
	v4 := netip.MustParseAddrPort("127.0.0.1:5070")
	v6 := netip.MustParseAddrPort("[2001:db8::1]:5060")
	mapped := netip.MustParseAddrPort("[::ffff:127.0.0.1]:5070")
	for _, c := range []struct {
		name   string
		addr   netip.AddrPort
		inet6  bool
		ok     bool
		family uint16
		size   uint32
		back   netip.AddrPort
	}{
		{"IPv4 peer, AF_INET socket", v4, false, true, unix.AF_INET, unix.SizeofSockaddrInet4, v4},
		{"v4-mapped peer, AF_INET socket", mapped, false, true, unix.AF_INET, unix.SizeofSockaddrInet4, v4},
		{"IPv4 peer, AF_INET6 socket: v4-mapped, read back as IPv4", v4, true, true, unix.AF_INET6, unix.SizeofSockaddrInet6, v4},
		{"IPv6 peer, AF_INET6 socket", v6, true, true, unix.AF_INET6, unix.SizeofSockaddrInet6, v6},
		{"IPv6 peer, AF_INET socket", v6, false, false, 0, 0, netip.AddrPort{}},
		{"no address", netip.AddrPort{}, true, false, 0, 0, netip.AddrPort{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, ok := For(c.addr, c.inet6)
			if ok != c.ok {
				t.Fatalf("ok %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			if family := *(*uint16)(a.Pointer()); family != c.family || a.Len() != c.size {
				t.Fatalf("family %d, %d bytes; want %d, %d", family, a.Len(), c.family, c.size)
			}
			if got := readBack(a); got != c.back {
				t.Fatalf("read back as %s, want %s", got, c.back)
			}
		})
	}
}

// The port is in network byte order, as the kernel reads it.
func TestPortIsBigEndian(t *testing.T) {
	a, _ := For(netip.MustParseAddrPort("127.0.0.1:5060"), false) // 5060 = 0x13c4
	b := (*[4]byte)(a.Pointer())
	if b[2] != 0x13 || b[3] != 0xc4 {
		t.Fatalf("sin_port bytes %#x %#x, want 0x13 0xc4", b[2], b[3])
	}
}

func TestAddrPortOfAnotherFamily(t *testing.T) {
	var sa unix.RawSockaddrAny
	sa.Addr.Family = unix.AF_UNIX
	if got := AddrPort(&sa); got.IsValid() {
		t.Fatalf("AF_UNIX read as %s, want the invalid AddrPort", got)
	}
}
