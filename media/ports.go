package media

import "sync"

// portPool hands out RTP/RTCP port pairs (an even port and the next, RFC
// 3550 §11) from a range, oldest freed first, so that a port just freed is
// not given to the next call while late packets of the last one may still
// arrive.
type portPool struct {
	mu   sync.Mutex
	free []int // even ports, in the order they may be taken
}

func newPortPool(low, high int) *portPool {
	p := &portPool{}
	for port := low + low%2; port+1 <= high; port += 2 {
		p.free = append(p.free, port)
	}
	return p
}

// take returns a free pair's even port, false when none is left.
func (p *portPool) take() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		return 0, false
	}
	port := p.free[0]
	p.free = p.free[1:]
	return port, true
}

// put gives a pair back, to be taken after every other free pair.
func (p *portPool) put(port int) {
	p.mu.Lock()
	p.free = append(p.free, port)
	p.mu.Unlock()
}

func (p *portPool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}
