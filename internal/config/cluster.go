package config

import (
	"cmp"
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"time"
)

// Cluster joins this gatekeeper to others that share live opt-outs, consents
// and frequency caps through NATS JetStream (docs/scale-out.md). Without the
// section (Config.Cluster nil) the gatekeeper runs alone.
type Cluster struct {
	// Node is this gatekeeper's name, unique in the cluster (letters, digits, - and _).
	Node string `yaml:"node"`
	// NATS are the client URLs of external NATS servers (nats://HOST:PORT);
	// with Embedded they may be left out and the embedded server is used.
	NATS []string `yaml:"nats"`
	// Embedded runs a NATS server inside the gatekeeper.
	Embedded *EmbeddedNATS `yaml:"embedded"`
	// Replicas is how many servers keep each bucket and stream: 1 to 5;
	// default 3 when the embedded server has at least two routes to
	// others, else 1.
	Replicas int `yaml:"replicas"`
	// Unreachable is what this node does once it cannot prove that its
	// opt-outs, consents and caps are current (Staleness): FailClosed
	// (default) refuses automated calls with 503 and Retry-After and answers
	// OPTIONS 503; Serve keeps deciding every call from the local copy.
	Unreachable string `yaml:"unreachable"`
	// Staleness is how long a proof that this node applied everything the
	// cluster acknowledged holds: 2s to 10m, default 15s
	// (cluster.DefaultStaleness says why).
	Staleness Duration `yaml:"staleness"`
}

// Values of Cluster.Unreachable.
const (
	FailClosed = "fail_closed"
	Serve      = "serve"
)

// The bounds of Cluster.Staleness: the node proves its copy once a second,
// each proof bounded to 2 s, so a shorter staleness would flap; a longer one
// than minutes would decide calls on a copy that far behind.
const (
	minStaleness     = 2 * time.Second
	maxStaleness     = 10 * time.Minute
	defaultStaleness = 15 * time.Second
)

// EmbeddedNATS is a NATS server with JetStream run in the gatekeeper's process.
type EmbeddedNATS struct {
	// Listen is the client address, IP:PORT (e.g. 127.0.0.1:4222).
	Listen string `yaml:"listen"`
	// RoutesListen is the cluster (route) address, IP:PORT; empty for a lone server.
	RoutesListen string `yaml:"routes_listen"`
	// Routes are the route URLs of every server of the cluster
	// (nats://IP:PORT), this one's included or not.
	Routes []string `yaml:"routes"`
	// StoreDir holds JetStream's files (default DATA_DIR/nats); each server needs its own.
	StoreDir string `yaml:"store_dir"`
}

func (c *Cluster) setDefaults(dataDir string) {
	c.Unreachable = cmp.Or(c.Unreachable, FailClosed)
	c.Staleness = cmp.Or(c.Staleness, Duration(defaultStaleness))
	e := c.Embedded
	if e == nil {
		c.Replicas = cmp.Or(c.Replicas, 1)
		return
	}
	if e.StoreDir == "" {
		e.StoreDir = filepath.Join(dataDir, "nats")
	}
	if len(c.NATS) == 0 {
		c.NATS = []string{"nats://" + e.Listen}
	}
	if c.Replicas == 0 {
		c.Replicas = 1
		others := 0
		for _, r := range e.Routes {
			if u, err := url.Parse(r); err == nil && u.Host != e.RoutesListen {
				others++
			}
		}
		if others >= 2 {
			c.Replicas = 3
		}
	}
}

var nodeName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (c *Cluster) check() *fieldError {
	if !nodeName.MatchString(c.Node) {
		return at("$.cluster.node", "cluster.node: %q is not a node name (1 to 64 letters, digits, - or _), e.g. gk-a", c.Node)
	}
	if len(c.NATS) == 0 && c.Embedded == nil {
		return at("$.cluster", "cluster: give nats (external servers) or embedded, e.g. nats: [\"nats://127.0.0.1:4222\"]")
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return at("$.cluster.replicas", "cluster.replicas: %d is not from 1 to 5", c.Replicas)
	}
	if c.Unreachable != FailClosed && c.Unreachable != Serve {
		return at("$.cluster.unreachable", "cluster.unreachable: %q is not fail_closed or serve", c.Unreachable)
	}
	if d := time.Duration(c.Staleness); d < minStaleness || d > maxStaleness {
		return at("$.cluster.staleness", "cluster.staleness: %v is not from %v to %v", d, minStaleness, maxStaleness)
	}
	if c.Embedded != nil {
		if err := c.Embedded.check(); err != nil {
			return err
		}
	}
	for i, u := range c.NATS {
		if err := checkNATSURL(u); err != nil {
			return at(fmt.Sprintf("$.cluster.nats[%d]", i), "cluster.nats[%d]: %q %v", i, u, err)
		}
	}
	return nil
}

func (e *EmbeddedNATS) check() *fieldError {
	if e.Listen == "" {
		return at("$.cluster.embedded", "cluster.embedded.listen: the client address is missing, e.g. 127.0.0.1:4222")
	}
	if !isIPPort(e.Listen) {
		return at("$.cluster.embedded.listen", "cluster.embedded.listen: %q: %s", e.Listen, portProblem(e.Listen))
	}
	if e.RoutesListen == "" {
		if len(e.Routes) > 0 {
			return at("$.cluster.embedded", "cluster.embedded: routes needs routes_listen, this server's route address")
		}
		return nil
	}
	if !isIPPort(e.RoutesListen) {
		return at("$.cluster.embedded.routes_listen", "cluster.embedded.routes_listen: %q: %s", e.RoutesListen, portProblem(e.RoutesListen))
	}
	for i, u := range e.Routes {
		if err := checkNATSURL(u); err != nil {
			return at(fmt.Sprintf("$.cluster.embedded.routes[%d]", i), "cluster.embedded.routes[%d]: %q %v", i, u, err)
		}
	}
	return nil
}

// isIPPort tells whether hostport is IP:PORT with a port from 1 to 65535; portProblem says why not.
func isIPPort(hostport string) bool {
	ap, err := netip.ParseAddrPort(hostport)
	return err == nil && ap.Port() != 0
}

func checkNATSURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "nats" || u.Host == "" || u.Port() == "":
		return fmt.Errorf("is not nats://HOST:PORT")
	}
	return nil
}
