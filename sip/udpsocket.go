package sip

import (
	"errors"
	"net"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gatekeeper-sip/gatekeeper/internal/sockaddr"
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
// net.UDPConn does; Go's signal handlers restart an interrupted call
// (SA_RESTART), and an EINTR is retried all the same.
//
// A call still holds the P for what the kernel does inline: on loopback the
// receiver's side, and with it whatever else waits in the CPU's backlog
// (at most about 2 ms of softirq, then ksoftirqd takes over), netfilter's
// rules, a reclaim of memory under pressure, as a page fault in Go code
// would. Meanwhile the goroutine cannot be preempted (a stop-the-world of
// the GC waits for it) and its P's other goroutines wait to be stolen.
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
		err = os.NewSyscallError("recvfrom", errno)
	}
	if err != nil {
		return 0, nil, s.opError("read", nil, err)
	}
	return n, udpAddr(&from), nil
}

// udpAddr is the source recvfrom wrote. A link-local IPv6 source keeps its
// scope as the zone, by interface number ("fe80::1%2"), so that an answer
// leaves by the interface the datagram came in on (net.UDPConn names the
// interface instead; both are valid zones for WriteTo).
func udpAddr(from *unix.RawSockaddrAny) *net.UDPAddr {
	a := net.UDPAddrFromAddrPort(sockaddr.AddrPort(from))
	if in6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(from)); in6.Family == unix.AF_INET6 && in6.Scope_id != 0 {
		a.Zone = strconv.FormatUint(uint64(in6.Scope_id), 10)
	}
	return a
}

// WriteTo sends b as one datagram to addr, a *net.UDPAddr. What sockaddr.For
// cannot express (a zone, an address of the other family, no address) goes
// by net.UDPConn, with its errors.
func (s *udpSocket) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok || ua == nil || ua.Zone != "" || len(b) == 0 {
		return s.UDPConn.WriteTo(b, addr)
	}
	to, ok := sockaddr.For(ua.AddrPort(), s.inet6)
	if !ok {
		return s.UDPConn.WriteTo(b, addr)
	}
	var (
		n     int
		errno unix.Errno
	)
	err := s.raw.Write(func(fd uintptr) bool {
		for {
			r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
				0, uintptr(to.Pointer()), uintptr(to.Len()))
			if e != unix.EINTR {
				n, errno = int(r), e
				return e != unix.EAGAIN
			}
		}
	})
	if err == nil && errno != 0 {
		err = os.NewSyscallError("sendto", errno)
	}
	if err != nil {
		return 0, s.opError("write", addr, err)
	}
	return n, nil
}

// opError is err as net.UDPConn reports it: a closed socket or a deadline,
// which syscall.RawConn reports in an *net.OpError of its own, is unwrapped
// from it (errors.Is(err, net.ErrClosed) holds either way; the message then
// names one operation, not two).
func (s *udpSocket) opError(op string, addr net.Addr, err error) error {
	if raw, ok := errors.AsType[*net.OpError](err); ok {
		err = raw.Err
	}
	return &net.OpError{Op: op, Net: "udp", Source: s.LocalAddr(), Addr: addr, Err: err}
}
