package sip

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpSocket is a UDP listener whose reads and writes of datagrams keep the
// goroutine's P (unix.RawSyscall6): the Go scheduler does not see them as
// system calls.
//
// Go's net package makes recvfrom and sendto as blocking system calls, and
// a P found in one for 20 µs or more is retaken by the runtime's monitor
// thread (sysmon) and handed to another thread. On loopback a sendto
// delivers the datagram to its receiver before it returns (≈ 14 µs here), so
// at 1,000 calls/s, 14 datagrams a call, the monitor kept finding a P in a
// system call and never slowed down: it woke ≈ 4,300 times a second, 7 % of
// a core and a sixth of the proxy's CPU, and each retake woke one more
// thread. With this socket it wakes ≈ 200 times a second, and a call costs
// 17 % less CPU (bench/run.sh, docs/benchmarks.md). The socket is
// non-blocking, so neither call can block: an empty receive queue or a full
// send buffer is EAGAIN, waited out in the netpoller (syscall.RawConn) as
// net.UDPConn does.
type udpSocket struct {
	*net.UDPConn
	raw   syscallConn
	inet6 bool // an AF_INET6 socket: IPv4 peers are written as v4-mapped addresses
}

// syscallConn is the part of syscall.RawConn the socket uses.
type syscallConn interface {
	Read(func(fd uintptr) (done bool)) error
	Write(func(fd uintptr) (done bool)) error
}

func newUDPSocket(uc *net.UDPConn) (*udpSocket, error) {
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	s := &udpSocket{UDPConn: uc, raw: raw}
	var domain int
	if err := raw.Control(func(fd uintptr) {
		domain, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
	}); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	s.inet6 = domain == unix.AF_INET6
	return s, nil
}

// ReadFrom reads one datagram into b; the address is a *net.UDPAddr.
func (s *udpSocket) ReadFrom(b []byte) (int, net.Addr, error) {
	if len(b) == 0 {
		return s.UDPConn.ReadFrom(b)
	}
	var (
		n     int
		from  unix.RawSockaddrAny
		errno unix.Errno
	)
	err := s.raw.Read(func(fd uintptr) bool {
		for {
			size := uint32(unix.SizeofSockaddrAny)
			r, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
				0, uintptr(unsafe.Pointer(&from)), uintptr(unsafe.Pointer(&size)))
			if e != unix.EINTR {
				n, errno = int(r), e
				return e != unix.EAGAIN
			}
		}
	})
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return 0, nil, &net.OpError{Op: "read", Net: "udp", Source: s.LocalAddr(), Err: err}
	}
	return n, udpAddrOf(&from), nil
}

// WriteTo sends b as one datagram to addr, a *net.UDPAddr.
func (s *udpSocket) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok || len(b) == 0 {
		return s.UDPConn.WriteTo(b, addr)
	}
	to, size, err := s.sockaddr(ua.AddrPort())
	if err != nil {
		return 0, &net.OpError{Op: "write", Net: "udp", Source: s.LocalAddr(), Addr: addr, Err: err}
	}
	var (
		n     int
		errno unix.Errno
	)
	err = s.raw.Write(func(fd uintptr) bool {
		for {
			r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
				0, uintptr(unsafe.Pointer(&to)), uintptr(size))
			if e != unix.EINTR {
				n, errno = int(r), e
				return e != unix.EAGAIN
			}
		}
	})
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return 0, &net.OpError{Op: "write", Net: "udp", Source: s.LocalAddr(), Addr: addr, Err: err}
	}
	return n, nil
}

// sockaddr is a destination in the socket's own address family.
func (s *udpSocket) sockaddr(ap netip.AddrPort) (unix.RawSockaddrAny, uint32, error) {
	var sa unix.RawSockaddrAny
	ip := ap.Addr()
	if s.inet6 {
		in6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(&sa))
		in6.Family = unix.AF_INET6
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&in6.Port))[:], ap.Port())
		in6.Addr = ip.As16() // an IPv4 address as v4-mapped
		return sa, unix.SizeofSockaddrInet6, nil
	}
	ip = ip.Unmap()
	if !ip.Is4() {
		return sa, 0, unix.EAFNOSUPPORT
	}
	in4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa))
	in4.Family = unix.AF_INET
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&in4.Port))[:], ap.Port())
	in4.Addr = ip.As4()
	return sa, unix.SizeofSockaddrInet4, nil
}

// udpAddrOf reads a received datagram's source address; an IPv4 peer of
// an AF_INET6 socket comes as v4-mapped and is given as IPv4.
func udpAddrOf(sa *unix.RawSockaddrAny) *net.UDPAddr {
	switch sa.Addr.Family {
	case unix.AF_INET:
		in4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&in4.Port))[:])
		return &net.UDPAddr{IP: netip.AddrFrom4(in4.Addr).AsSlice(), Port: int(port)}
	case unix.AF_INET6:
		in6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&in6.Port))[:])
		addr := netip.AddrFrom16(in6.Addr).Unmap()
		ua := &net.UDPAddr{IP: addr.AsSlice(), Port: int(port)}
		if addr.Is6() && in6.Scope_id != 0 {
			ua.Zone = strconv.FormatUint(uint64(in6.Scope_id), 10)
		}
		return ua
	}
	return &net.UDPAddr{}
}
