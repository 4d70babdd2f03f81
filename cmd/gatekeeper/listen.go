package main

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/gatekeeper-sip/gatekeeper/internal/config"
)

// hostListens replaces each unspecified listen address (0.0.0.0, ::) by this
// host's first address of that family that is neither loopback nor
// link-local: the proxy writes its address into Via and Record-Route, where
// 0.0.0.0 would send the far side's answers nowhere. In a container that is
// the container's own address, the one `docker run -p` forwards to.
func hostListens(listens []string) ([]string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(listens))
	for i, l := range listens {
		network, addr, err := config.SplitListen(l)
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, err
		}
		if !ap.Addr().IsUnspecified() {
			out[i] = l
			continue
		}
		ip, ok := firstHostAddr(addrs, ap.Addr().Is4())
		if !ok {
			return nil, fmt.Errorf("sip.listen: %s: this host has no address of that IP family besides loopback", l)
		}
		out[i] = fmt.Sprintf("%s://%s", network, netip.AddrPortFrom(ip, ap.Port()))
	}
	return out, nil
}

func firstHostAddr(addrs []net.Addr, ipv4 bool) (netip.Addr, bool) {
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		ip = ip.Unmap()
		if ok && ip.Is4() == ipv4 && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
			return ip, true
		}
	}
	return netip.Addr{}, false
}
