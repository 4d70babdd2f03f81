package media

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// streamDesc is what the relay needs of one m= line of an SDP.
type streamDesc struct {
	// port is the m= line's port; 0 disables the stream (RFC 3264 §8.2).
	port int
	// addr is its connection address: the m= section's c=, else the
	// session's. The unspecified address (0.0.0.0, ::) puts it on hold
	// (RFC 3264 §8.4); an invalid one is a name, or no c= at all.
	addr netip.Addr
	// rtcp is the a=rtcp port (RFC 3605); 0 when absent: port+1 (RFC 3550 §11).
	rtcp int
	// mux is a=rtcp-mux (RFC 5761): RTCP on the RTP port.
	mux bool
	// audio: the m= line's media is audio (RFC 4566 §5.14).
	audio bool
}

// description is a parsed SDP body that can be written back with the
// relay's address and ports.
type description interface {
	streams() []streamDesc
	// rewrite writes the SDP with addr in every c= line that is not on hold,
	// ports[i] as the port of the i-th m= line (0 leaves the line alone) and
	// ports[i]+1 in its a=rtcp.
	rewrite(addr netip.Addr, ports []int) ([]byte, error)
}

// parseSDP reads an SDP body with pion/sdp, and when pion refuses it (it
// wants RFC 4566's line order, §5) line by line, so that the rewrite keeps
// every line it does not change byte for byte.
func parseSDP(body []byte) (description, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err == nil {
		return (*pionSDP)(&sd), nil
	}
	return parseLines(body)
}

// pionSDP is an SDP that pion/sdp parsed.
type pionSDP sdp.SessionDescription

func (d *pionSDP) streams() []streamDesc {
	out := make([]streamDesc, len(d.MediaDescriptions))
	for i, m := range d.MediaDescriptions {
		conn := m.ConnectionInformation
		if conn == nil {
			conn = d.ConnectionInformation
		}
		out[i].port = m.MediaName.Port.Value
		out[i].audio = m.MediaName.Media == "audio"
		if conn != nil && conn.Address != nil {
			out[i].addr, _ = netip.ParseAddr(conn.Address.Address)
		}
		if v, ok := m.Attribute("rtcp"); ok {
			out[i].rtcp = rtcpPort(v)
		}
		_, out[i].mux = m.Attribute("rtcp-mux")
	}
	return out
}

func (d *pionSDP) rewrite(addr netip.Addr, ports []int) ([]byte, error) {
	setConn(d.ConnectionInformation, addr)
	for i, m := range d.MediaDescriptions {
		if ports[i] == 0 {
			continue
		}
		m.MediaName.Port.Value = ports[i]
		setConn(m.ConnectionInformation, addr)
		for j, a := range m.Attributes {
			if a.Key == "rtcp" {
				m.Attributes[j].Value = rtcpValue(a.Value, addr, ports[i]+1)
			}
		}
	}
	return (*sdp.SessionDescription)(d).Marshal()
}

// setConn puts addr in a c= line unless the line puts its media on hold.
func setConn(c *sdp.ConnectionInformation, addr netip.Addr) {
	if c == nil || c.Address == nil || onHold(c.Address.Address) {
		return
	}
	c.AddressType, c.Address.Address = addrType(addr), addr.String()
}

// lineSDP is an SDP read line by line: every line with its own ending.
type lineSDP struct {
	lines [][]byte
	descs []streamDesc
}

// parseLines reads the v=, c=, m= and a=rtcp lines of an SDP whatever
// their order; it fails only when the body is not an SDP or an m= or c=
// line cannot be read.
func parseLines(body []byte) (*lineSDP, error) {
	d := &lineSDP{lines: bytes.SplitAfter(body, []byte("\n"))}
	if !bytes.HasPrefix(body, []byte("v=")) {
		return nil, fmt.Errorf("%w: it does not start with v=", ErrNotSDP)
	}
	var session netip.Addr
	media := -1
	for _, raw := range d.lines {
		line := strings.TrimRight(string(raw), "\r\n")
		switch {
		case strings.HasPrefix(line, "m="):
			port, err := mediaPort(line)
			if err != nil {
				return nil, err
			}
			d.descs = append(d.descs, streamDesc{port: port, addr: session, audio: strings.HasPrefix(line, "m=audio ")})
			media++
		case strings.HasPrefix(line, "c="):
			f := strings.Fields(line[2:])
			if len(f) < 3 {
				return nil, fmt.Errorf("%w: %q is not c=<nettype> <addrtype> <address>", ErrNotSDP, line)
			}
			a, _ := netip.ParseAddr(connAddress(f[2]))
			if media < 0 {
				session = a
				for i := range d.descs { // a session c= after the m= lines still applies to them
					d.descs[i].addr = a
				}
			} else {
				d.descs[media].addr = a
			}
		case media >= 0 && strings.HasPrefix(line, "a=rtcp:"):
			d.descs[media].rtcp = rtcpPort(line[len("a=rtcp:"):])
		case media >= 0 && line == "a=rtcp-mux":
			d.descs[media].mux = true
		}
	}
	return d, nil
}

func (d *lineSDP) streams() []streamDesc { return d.descs }

func (d *lineSDP) rewrite(addr netip.Addr, ports []int) ([]byte, error) {
	var out bytes.Buffer
	media := -1
	for _, raw := range d.lines {
		body := bytes.TrimRight(raw, "\r\n")
		ending := raw[len(body):]
		line := string(body)
		keep := media >= 0 && ports[media] == 0
		switch {
		case strings.HasPrefix(line, "m="):
			media++
			if ports[media] != 0 {
				f := strings.SplitN(line, " ", 3)
				_, count, _ := strings.Cut(f[1], "/")
				port := strconv.Itoa(ports[media])
				if count != "" {
					port += "/" + count
				}
				line = f[0] + " " + port + " " + f[2]
			}
		case strings.HasPrefix(line, "c=") && !keep:
			f := strings.Fields(line[2:])
			if !onHold(connAddress(f[2])) {
				line = "c=" + f[0] + " " + addrType(addr) + " " + addr.String()
			}
		case strings.HasPrefix(line, "a=rtcp:") && media >= 0 && !keep:
			line = "a=rtcp:" + rtcpValue(line[len("a=rtcp:"):], addr, ports[media]+1)
		}
		out.WriteString(line)
		out.Write(ending)
	}
	return out.Bytes(), nil
}

// mediaPort reads the port of "m=<media> <port>[/<count>] <proto> <fmt>...".
func mediaPort(line string) (int, error) {
	f := strings.Fields(line)
	if len(f) < 4 {
		return 0, fmt.Errorf("%w: %q is not m=<media> <port> <proto> <fmt>", ErrNotSDP, line)
	}
	p, _, _ := strings.Cut(f[1], "/")
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return 0, fmt.Errorf("%w: %q: port %q is not from 0 to 65535", ErrNotSDP, line, p)
	}
	return port, nil
}

// connAddress is the address of a c= line's connection address, without
// its multicast /ttl or /count.
func connAddress(s string) string {
	a, _, _ := strings.Cut(s, "/")
	return a
}

// onHold tells whether a c= address is the unspecified one.
func onHold(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.IsUnspecified()
}

// rtcpPort reads the port of an a=rtcp value "<port> [IN IP4 <address>]"; 0 when it is not one.
func rtcpPort(v string) int {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0
	}
	p, err := strconv.Atoi(f[0])
	if err != nil || p < 1 || p > 65535 {
		return 0
	}
	return p
}

// rtcpValue is an a=rtcp value with port, and addr when it named an address.
func rtcpValue(v string, addr netip.Addr, port int) string {
	f := strings.Fields(v)
	if len(f) >= 4 {
		return fmt.Sprintf("%d %s %s %s", port, f[1], addrType(addr), addr)
	}
	return strconv.Itoa(port)
}

func addrType(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		return "IP6"
	}
	return "IP4"
}
