package media

import (
	"errors"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gatekeeper-sip/gatekeeper/internal/sockaddr"
)

// The relay reads its sockets with its own epoll loops rather than one
// goroutine per socket blocking in net.UDPConn's ReadFrom: at 1,000 calls
// (4,000 sockets, 100,000 packets a second on 2 cores) the goroutines'
// run queues stayed full, so Go's scheduler polled the network only every
// 10 ms (sysmon) and a packet waited for it: p99 20 ms added latency on a
// quiet machine (docs/benchmarks.md, "Media relay"). A worker blocked in
// epoll_wait is woken by the kernel itself, whatever else runs.

// worker relays the packets of the streams given to it: one epoll instance
// over their sockets (non-blocking, level-triggered), waited on by one
// goroutine, which alone reads them and sends on them; remove's caller
// closes them once the worker let go of them.
type worker struct {
	epfd int
	wake int // an eventfd in the epoll set: remove and stop write to it
	// streams counts the streams given to the worker, to spread new ones.
	streams atomic.Int64

	mu      sync.Mutex
	closing []closing // streams to let go of between two epoll_waits
	stop    bool      // asked to stop
	stopped bool      // its goroutine returned (wake and epfd are closed): remove's caller lets go
}

// closing is a stream a worker is to let go of; done is closed once it did.
type closing struct {
	st   *stream
	done chan struct{}
}

// wakeKey is the epoll key of a worker's eventfd; a socket's key is its port,
// never 0.
const wakeKey = 0

func newWorker() (*worker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeKey}); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, err
	}
	return &worker{epfd: epfd, wake: wake}, nil
}

// signal wakes the worker; its caller holds mu and found it not stopped,
// so that wake is still open (finish closes it after setting stopped) and
// the write cannot land on another file given the same descriptor since.
func (w *worker) signal() {
	one := [8]byte{1} // adds to the eventfd's counter: non-zero in either byte order
	unix.Write(w.wake, one[:])
}

// add puts a stream's four sockets into the worker's epoll set; their keys
// are their ports, which r.legs maps to their legs.
func (w *worker) add(st *stream) error {
	w.streams.Add(1)
	for _, l := range st.legs {
		for i, fd := range l.fd {
			ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.port + i)}
			if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// remove has the worker let go of the stream's sockets between two of its
// epoll_waits (so that it is not reading or sending on one of them when it
// is closed, nor later on another socket given the same descriptor), then
// closes them and frees their ports. The closing is the caller's, not the
// worker's: a worker that made the close system calls itself lost its Go
// P in them now and then, and waited for one while its packets queued
// (≈ 0.85 ms for each stream closed, in a scheduler-latency profile of
// bench/media replacing 40 calls a second).
func (w *worker) remove(r *Relay, st *stream) {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		r.unmap(st)
	} else {
		done := make(chan struct{})
		w.closing = append(w.closing, closing{st, done})
		w.signal()
		w.mu.Unlock()
		<-done
	}
	r.closeStream(st)
}

// run is the worker's goroutine: it relays one packet from each socket
// epoll_wait says is readable (level-triggered: a socket with more is
// named again by the next epoll_wait; at 50 packets a second a socket
// rarely holds two, and reading until EAGAIN would cost a system call a
// packet), then lets go of what remove asked for, until stop.
func (r *Relay) run(w *worker) {
	r.askShortSlice()
	events := make([]unix.EpollEvent, 256)
	var sc scratch
	for {
		n, err := unix.EpollWait(w.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			r.log.Error("media relay stopped: epoll_wait", "err", err)
			w.finish(r)
			return
		}
		woken := false
		for _, ev := range events[:n] {
			if ev.Fd == wakeKey {
				woken = true
				continue
			}
			i := int(ev.Fd) - r.cfg.PortLow
			if l := r.legs[i].Load(); l != nil {
				r.relay(l, int(ev.Fd)-l.port, &sc)
			}
		}
		if woken {
			var counter [8]byte
			unix.Read(w.wake, counter[:])
			w.mu.Lock()
			todo, stop := w.closing, w.stop
			w.closing = nil
			w.mu.Unlock()
			w.letGo(r, todo)
			if stop {
				w.finish(r)
				return
			}
		}
	}
}

// workerSlice is the scheduler time slice a worker's thread asks for. A
// thread of the fair class (SCHED_OTHER, normal priority) whose slice is
// shorter than the running thread's preempts it when woken (EEVDF, Linux
// 6.12 and later: sched_setattr(2)'s sched_runtime, no privilege needed);
// with the default slice (1.4 ms on a 2-core machine: se.slice in
// /proc/PID/task/TID/sched), a worker woken by a packet can wait that long
// behind another thread on its core.
// In six alternated 10 s runs of bench/media (1,000 calls, the generator on
// the same 2 cores) the p99 latency was 1.28-1.89 ms with it (median 1.66)
// and 1.45-2.19 ms without (median 1.94), CPU the same (docs/benchmarks.md,
// "Media relay").
const workerSlice = 100 * time.Microsecond

// askShortSlice binds the calling worker's goroutine to its thread, which
// then ends with it (no other goroutine inherits the slice), and asks the
// kernel for workerSlice for that thread, keeping its policy and nice
// value (sched_setattr sets both: a zero nice would undo the process's
// nice, or be refused for it). The kernel clamps the slice to 0.1-100 ms;
// kernels before 6.12 take sched_runtime of a fair policy and ignore it.
// A thread of a real-time policy is left as it is.
func (r *Relay) askShortSlice() {
	runtime.LockOSThread()
	attr, err := unix.SchedGetAttr(0, 0)
	if err == nil && attr.Policy != unix.SCHED_NORMAL && attr.Policy != unix.SCHED_BATCH {
		return
	}
	if err == nil {
		attr.Size, attr.Runtime = unix.SizeofSchedAttr, uint64(workerSlice)
		err = unix.SchedSetAttr(0, attr, 0)
	}
	if err != nil {
		r.log.Debug("media relay: the worker keeps the default time slice", "err", err)
	}
}

// finish ends the worker: what remains to let go of, and what is asked
// after, is closed by the callers of remove.
func (w *worker) finish(r *Relay) {
	w.mu.Lock()
	w.stopped = true
	todo := w.closing
	w.closing = nil
	w.mu.Unlock()
	w.letGo(r, todo)
	unix.Close(w.epfd)
	unix.Close(w.wake)
}

// halt stops the worker's goroutine; a stream removed after it stopped is
// closed by remove's caller.
func (w *worker) halt() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stop = true
	if !w.stopped {
		w.signal()
	}
}

// letGo takes the streams remove asked for out of the worker's epoll set
// and out of r.legs, and lets remove close them.
func (w *worker) letGo(r *Relay, todo []closing) {
	for _, c := range todo {
		r.unmap(c.st)
		for _, l := range c.st.legs {
			for _, fd := range l.fd {
				unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, fd, nil)
			}
		}
		close(c.done)
	}
}

// unmap takes a stream's sockets out of r.legs: an event the worker still
// reads for one of their ports is passed over.
func (r *Relay) unmap(st *stream) {
	for _, l := range st.legs {
		for i := range l.fd {
			r.legs[l.port+i-r.cfg.PortLow].Store(nil)
		}
	}
}

// closeStream closes the sockets of a stream its worker let go of (or that
// has no worker running) and frees its ports.
func (r *Relay) closeStream(st *stream) {
	for _, l := range st.legs {
		for _, fd := range l.fd {
			unix.Close(fd)
		}
		r.ports.put(l.port)
	}
	st.worker.streams.Add(-1)
}

// bind opens a non-blocking UDP socket on the relay's address and port; an
// error is the port's being held by another program, or the system's.
func (r *Relay) bind(port int) (int, error) {
	family, sa := unix.AF_INET, unix.Sockaddr(&unix.SockaddrInet4{Port: port, Addr: r.cfg.Address.As4()})
	if !r.v4 {
		family, sa = unix.AF_INET6, &unix.SockaddrInet6{Port: port, Addr: r.cfg.Address.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// destination is where a side receives, in the form sendto takes, made once
// per SDP or latch so that sending allocates nothing.
type destination struct {
	addr netip.AddrPort
	to   sockaddr.Inet
}

// newDestination is addr for a socket of the relay's family; nil when it is
// of the other family (the packet cannot be sent there).
func (r *Relay) newDestination(addr netip.AddrPort) *destination {
	if addr.Addr().Unmap().Is4() != r.v4 {
		return nil
	}
	to, ok := sockaddr.For(addr, !r.v4)
	if !ok {
		return nil
	}
	return &destination{addr: addr, to: to}
}

// recvfrom reads a datagram into buf and its source into src, without the
// allocation unix.Recvfrom's Sockaddr costs.
func recvfrom(fd int, buf []byte, src *unix.RawSockaddrAny) (int, unix.Errno) {
	size := uint32(unix.SizeofSockaddrAny)
	n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
		0, uintptr(unsafe.Pointer(src)), uintptr(unsafe.Pointer(&size)))
	return int(n), errno
}

// sendto sends b to a from fd, without allocating.
func sendto(fd int, b []byte, a *destination) unix.Errno {
	_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		0, uintptr(a.to.Pointer()), uintptr(a.to.Len()))
	return errno
}
