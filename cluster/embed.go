package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/gatekeeper-sip/gatekeeper/internal/config"
)

// clusterName is the NATS cluster name every gatekeeper's embedded server uses.
const clusterName = "gatekeeper"

// Embed starts a NATS server with JetStream inside the process, as
// configured (cluster.embedded), named node, and waits up to 10 s until it
// takes connections. Its streams are written with fsync on every write
// (sync_interval: always): JetStream acknowledges before fsync by default,
// and acknowledged writes were lost under crashes (Jepsen, NATS 2.12.1).
// The caller shuts it down (Shutdown, WaitForShutdown).
func Embed(node string, e config.EmbeddedNATS) (*server.Server, error) {
	host, port, err := splitHostPort(e.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", e.Listen, err)
	}
	opts := &server.Options{
		ServerName: node,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   e.StoreDir,
		SyncAlways: true,
		NoSigs:     true,
		NoLog:      true,
	}
	if opts.StoreDir == "" {
		// An empty StoreDir would share os.TempDir()/jetstream with other servers.
		return nil, errors.New("store_dir is empty")
	}
	if e.RoutesListen != "" {
		opts.Cluster.Name = clusterName
		if opts.Cluster.Host, opts.Cluster.Port, err = splitHostPort(e.RoutesListen); err != nil {
			return nil, fmt.Errorf("routes_listen %s: %w", e.RoutesListen, err)
		}
		for _, r := range e.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("route %s: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("the embedded NATS server on %s did not start within 10 s", e.Listen)
	}
	return s, nil
}

func splitHostPort(hostport string) (string, int, error) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	return host, port, err
}
