package config

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Media is the media section: whether calls' RTP is anchored at the
// gatekeeper, and where (docs/media.md).
type Media struct {
	// Anchor anchors every call's media unless its dialer or campaign says
	// otherwise (default false).
	Anchor bool `yaml:"anchor"`
	// Address is the IP the relay binds and writes into the SDP: one both
	// the dialers and the carrier reach.
	Address string `yaml:"address"`
	// Ports is the UDP port range "LOW-HIGH" of the relay, both included;
	// each call takes four ports per media stream.
	Ports string `yaml:"ports"`
	// IdleTimeout frees an anchored call's ports after this long without a
	// packet (default 60s).
	IdleTimeout Duration `yaml:"idle_timeout"`

	// Addr, PortLow and PortHigh are Address and Ports as checked.
	Addr              netip.Addr `yaml:"-"`
	PortLow, PortHigh int        `yaml:"-"`
}

// MediaChoice is a dialer's or a campaign's own media setting.
type MediaChoice struct {
	// Anchor, when set, overrides media.anchor for the dialer's or the
	// campaign's calls (a campaign's wins over its dialer's).
	Anchor *bool `yaml:"anchor"`
}

// AnchorsMedia tells whether any call may have its media anchored: the
// relay is needed.
func (c *Config) AnchorsMedia() bool {
	if c.Media.Anchor {
		return true
	}
	for _, d := range c.Dialers {
		if d.Media != nil && d.Media.Anchor != nil && *d.Media.Anchor {
			return true
		}
	}
	for _, cp := range c.Campaigns {
		if cp.Media != nil && cp.Media.Anchor != nil && *cp.Media.Anchor {
			return true
		}
	}
	return false
}

// checkMedia checks the relay's address and port range when some call may
// be anchored.
func (c *Config) checkMedia() *fieldError {
	m := &c.Media
	if !c.AnchorsMedia() {
		return nil
	}
	if m.Address == "" {
		return at("$.media", "media.address: calls are anchored, so give the IP the dialers and the carrier send media to")
	}
	a, err := netip.ParseAddr(m.Address)
	if err != nil || a.IsUnspecified() || a.Zone() != "" {
		return at("$.media.address", "media.address: %q is not an IP address of this host (names are not resolved, 0.0.0.0 names no host)", m.Address)
	}
	m.Addr = a.Unmap()
	if m.Ports == "" {
		return at("$.media", `media.ports: calls are anchored, so give a UDP port range, e.g. "20000-29999"`)
	}
	low, high, ok := strings.Cut(m.Ports, "-")
	m.PortLow, err = strconv.Atoi(strings.TrimSpace(low))
	if err == nil {
		m.PortHigh, err = strconv.Atoi(strings.TrimSpace(high))
	}
	if !ok || err != nil || m.PortLow < 1024 || m.PortHigh > 65535 || m.PortHigh-m.PortLow < 3 {
		return at("$.media.ports", `media.ports: %q is not LOW-HIGH within 1024-65535 with at least four ports, e.g. "20000-29999"`, m.Ports)
	}
	if m.IdleTimeout < 0 {
		return at("$.media.idle_timeout", "media.idle_timeout: %v is negative", time.Duration(m.IdleTimeout))
	}
	return nil
}

// AgentSignal is how a dialer says that a live agent came on a call, inside
// the call's dialog after the answer: a header on a request it sends (INFO,
// re-INVITE or UPDATE), or an INFO (RFC 6086) with a Content-Type of its
// own and, optionally, a body holding a given text. Set Header, or
// ContentType with an optional Body.
type AgentSignal struct {
	// Header is the header whose presence is the signal, e.g. X-Agent-Connected.
	Header string `yaml:"header"`
	// ContentType is the media type of an INFO whose arrival is the signal,
	// e.g. application/x-agent-state.
	ContentType string `yaml:"content_type"`
	// Body, when set, must occur in that INFO's body, e.g. "connected".
	Body string `yaml:"body"`
}

// check checks that a signal names a header or a content type, not both,
// and that each is well formed (RFC 3261 §25.1 token, type/subtype).
func (s *AgentSignal) check(path, dialer string) *fieldError {
	switch {
	case s == nil:
		return nil
	case s.Header != "" && s.ContentType != "":
		return at(path, "%s: agent_signal: give header or content_type, not both", dialer)
	case s.Header == "" && s.ContentType == "":
		return at(path, "%s: agent_signal: give header (e.g. X-Agent-Connected) or content_type (an INFO's)", dialer)
	case s.Header != "" && s.Body != "":
		return at(path+".body", "%s: agent_signal: body goes with content_type (an INFO's), not with header", dialer)
	case s.Header != "" && !isToken(s.Header):
		return at(path+".header", "%s: agent_signal: header %q is not a SIP header name", dialer, s.Header)
	}
	if s.ContentType != "" {
		kind, sub, ok := strings.Cut(s.ContentType, "/")
		if !ok || !isToken(kind) || !isToken(sub) {
			return at(path+".content_type", "%s: agent_signal: content_type %q is not a media type such as application/x-agent-state", dialer, s.ContentType)
		}
	}
	return nil
}

// isToken tells whether s is an RFC 3261 §25.1 token: a header name or a
// media type's part.
func isToken(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-.!%*_+`'~", r))
	}) < 0
}
