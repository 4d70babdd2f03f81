// Package sockaddr converts between netip.AddrPort and the socket addresses
// the recvfrom and sendto system calls take (struct sockaddr_in and
// sockaddr_in6, in network byte order), for the proxy's UDP listeners and
// the media relay, which make those calls themselves: without the net
// package's allocation of an address for every datagram, and without
// handing the goroutine's P to the scheduler.
package sockaddr

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Inet is a destination as sendto takes it: a sockaddr_in or a sockaddr_in6.
type Inet struct {
	raw unix.RawSockaddrInet6 // or a RawSockaddrInet4 in its first bytes
	len uint32
}

// For is addr as the destination of a socket of the family inet6 names
// (AF_INET6, else AF_INET). An AF_INET6 socket reaches an IPv4 address at
// its v4-mapped address (RFC 4291 §2.5.5.2), which only a socket open to
// both families can send to; ok is false for an IPv6 address and an
// AF_INET socket, and for an invalid address.
func For(addr netip.AddrPort, inet6 bool) (a Inet, ok bool) {
	ip := addr.Addr().Unmap()
	switch {
	case !ip.IsValid():
		return a, false
	case inet6:
		a.raw.Family = unix.AF_INET6
		a.raw.Addr = ip.As16()
		putPort(&a.raw.Port, addr.Port())
		a.len = unix.SizeofSockaddrInet6
	case ip.Is4():
		in := (*unix.RawSockaddrInet4)(unsafe.Pointer(&a.raw))
		in.Family = unix.AF_INET
		in.Addr = ip.As4()
		putPort(&in.Port, addr.Port())
		a.len = unix.SizeofSockaddrInet4
	default:
		return a, false
	}
	return a, true
}

// Pointer is the address for sendto's dest_addr argument.
func (a *Inet) Pointer() unsafe.Pointer { return unsafe.Pointer(&a.raw) }

// Len is the size of the address in bytes, for sendto's addrlen argument.
func (a *Inet) Len() uint32 { return a.len }

// AddrPort reads a source address recvfrom wrote. A v4-mapped IPv6 address
// (an IPv4 peer of a socket open to both families) is given as IPv4; an
// address of another family is the invalid AddrPort. The scope of a
// link-local IPv6 address is not kept, nor given to sendto by For: neither
// the relay nor the proxy serves link-local peers.
func AddrPort(sa *unix.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case unix.AF_INET:
		in := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(in.Addr), port(&in.Port))
	case unix.AF_INET6:
		in := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom16(in.Addr).Unmap(), port(&in.Port))
	}
	return netip.AddrPort{}
}

// putPort stores a port in network byte order, as sin_port and sin6_port hold it.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// port reads a port stored in network byte order.
func port(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}
