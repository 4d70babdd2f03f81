package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestClusterSection(t *testing.T) {
	base := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [127.0.0.0/8]\npolicy: p.yaml\n"
	cfg, err := Parse("gk.yaml", []byte(base))
	if err != nil || cfg.Cluster != nil {
		t.Fatalf("no cluster section: %+v, %v", cfg.Cluster, err)
	}
	three := base + "cluster:\n  node: gk-a\n  embedded:\n    listen: 127.0.0.1:4222\n    routes_listen: 127.0.0.1:6222\n" +
		"    routes: [\"nats://127.0.0.1:6222\", \"nats://127.0.0.2:6222\", \"nats://127.0.0.3:6222\"]\n"
	cfg, err = Parse("gk.yaml", []byte(three))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Cluster
	if c.Unreachable != FailClosed || time.Duration(c.Staleness) != 15*time.Second {
		t.Errorf("defaults when the cluster is unreachable: %q, %v", c.Unreachable, c.Staleness)
	}
	if c.Replicas != 3 || c.Embedded.StoreDir != filepath.Join("var", "data", "nats") || len(c.NATS) != 1 || c.NATS[0] != "nats://127.0.0.1:4222" {
		t.Errorf("defaults of three servers: %+v %+v", c, c.Embedded)
	}
	cfg, err = Parse("gk.yaml", []byte(base+"cluster:\n  node: gk-b\n  nats: [\"nats://127.0.0.1:4222\"]\n  unreachable: serve\n  staleness: 1m\n"))
	if err != nil || cfg.Cluster.Replicas != 1 || cfg.Cluster.Embedded != nil || cfg.Cluster.Unreachable != Serve || time.Duration(cfg.Cluster.Staleness) != time.Minute {
		t.Errorf("external NATS: %+v, %v", cfg.Cluster, err)
	}
	cases := map[string]string{
		base + "cluster:\n  node: gk a\n  nats: [\"nats://127.0.0.1:4222\"]\n":                                              `gk.yaml:9:9: cluster.node: "gk a" is not a node name`,
		base + "cluster:\n  node: gk-a\n":                                                                                   `gk.yaml:9:7: cluster: give nats (external servers) or embedded`,
		base + "cluster:\n  node: gk-a\n  nats: [\"http://127.0.0.1:4222\"]\n":                                              `gk.yaml:10:10: cluster.nats[0]: "http://127.0.0.1:4222" is not nats://HOST:PORT`,
		base + "cluster:\n  node: gk-a\n  nats: [\"nats://127.0.0.1:4222\"]\n  replicas: 7\n":                               `gk.yaml:11:13: cluster.replicas: 7 is not from 1 to 5`,
		base + "cluster:\n  node: gk-a\n  nats: [\"nats://127.0.0.1:4222\"]\n  unreachable: open\n":                         `gk.yaml:11:16: cluster.unreachable: "open" is not fail_closed or serve`,
		base + "cluster:\n  node: gk-a\n  nats: [\"nats://127.0.0.1:4222\"]\n  staleness: 500ms\n":                          `gk.yaml:11:14: cluster.staleness: 500ms is not from 2s to 10m0s`,
		base + "cluster:\n  node: gk-a\n  embedded:\n    listen: nats.example:4222\n":                                       `gk.yaml:11:13: cluster.embedded.listen: "nats.example:4222": "nats.example" is not an IP address`,
		base + "cluster:\n  node: gk-a\n  embedded:\n    listen: 127.0.0.1:4222\n    routes: [\"nats://127.0.0.2:6222\"]\n": `cluster.embedded: routes needs routes_listen`,
	}
	for src, want := range cases {
		_, err := Parse("gk.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v\nwant %s", err, want)
		}
	}
}
