package configs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/gatekeeper-sip/gatekeeper/internal/config"
)

// service is what the test reads of a compose.yaml service.
type service struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Networks    map[string]struct {
		IPv4 string `yaml:"ipv4_address"`
	} `yaml:"networks"`
	NetworkMode string `yaml:"network_mode"`
}

// What a site sets for compose.yaml.
var site = map[string]string{
	"GATEKEEPER_CARRIER":        "sip:203.0.113.10:5060",
	"GATEKEEPER_DIALER_SOURCES": "10.20.0.0/16,192.0.2.7/32",
	"FTC_SOURCE_DATE":           "2026-11-01",
}

// interpolation is compose's ${NAME}, ${NAME:-default} and ${NAME:?error}.
var interpolation = regexp.MustCompile(`\$\{(\w+)(?::([-?])([^}]*))?\}`)

// readCompose reads compose.yaml with the site's settings, as docker compose
// would: interpolated, YAML anchors and merge keys resolved.
func readCompose(t *testing.T) map[string]service {
	t.Helper()
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	data = interpolation.ReplaceAllFunc(data, func(ref []byte) []byte {
		m := interpolation.FindSubmatch(ref)
		if v, ok := site[string(m[1])]; ok {
			return []byte(v)
		}
		if string(m[2]) == "-" {
			return m[3]
		}
		missing = append(missing, string(m[1]))
		return nil
	})
	if missing != nil {
		t.Fatalf("compose.yaml needs %v, which the site settings of this test leave out", missing)
	}
	var compose struct {
		Services map[string]service `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return compose.Services
}

// compose.yaml runs three gatekeepers, each with its one-shot import, three
// NATS servers and the dispatcher; every file it mounts is shipped; each
// gatekeeper's config loads with its service's environment as `gatekeeper`
// loads it, in the cluster of the three NATS servers, taking calls from the
// dispatcher; each NATS server's config is clustered with JetStream and sync
// always; the dispatcher's config is accepted by Kamailio with the
// compose file's defines; and the dispatcher list names the gatekeepers'
// addresses. Compose itself is not run here (no container engine).
func TestComposeConfigs(t *testing.T) {
	services := readCompose(t)
	var names []string
	for name := range services {
		names = append(names, name)
	}
	slices.Sort(names)
	want := []string{"dispatcher", "gk-a", "gk-b", "gk-c", "import-a", "import-b", "import-c", "nats-a", "nats-b", "nats-c"}
	if !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	dispatcherIP := services["dispatcher"].Networks["sip"].IPv4

	mounted := map[string]string{} // in-container path -> shipped file
	for _, name := range names {
		for _, v := range services[name].Volumes {
			src, dst, _ := strings.Cut(v, ":")
			dst, _, _ = strings.Cut(dst, ":")
			if !strings.HasPrefix(src, "./") || dst == "/lists" {
				continue // a named volume, or the site's lists
			}
			if _, err := os.Stat(src); err != nil {
				t.Errorf("%s mounts %s: %v", name, src, err)
			}
			mounted[dst] = src
		}
	}

	var gatekeeperIPs []string
	for _, name := range []string{"gk-a", "gk-b", "gk-c", "import-a", "import-b", "import-c"} {
		s := services[name]
		node := "gk-" + name[len(name)-1:]
		t.Run(name, func(t *testing.T) {
			file := configFile(t, s, "/etc/gatekeeper/gatekeeper.yaml")
			for k, v := range s.Environment {
				t.Setenv(k, v)
			}
			cfg, err := config.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			c := cfg.Cluster
			if c == nil || c.Node != node || c.Replicas != 3 || strings.Join(c.NATS, " ") != "nats://nats-a:4222 nats://nats-b:4222 nats://nats-c:4222" {
				t.Errorf("cluster section %+v", c)
			}
			if len(cfg.Dialers) != 1 || len(cfg.Dialers[0].Sources) != 1 || cfg.Dialers[0].Sources[0].String() != dispatcherIP+"/32" {
				t.Errorf("dialers %+v: want the dispatcher %s alone", cfg.Dialers, dispatcherIP)
			}
			if cfg.SIP.Carrier != site["GATEKEEPER_CARRIER"] || cfg.DataDir != "/var/lib/gatekeeper/data" {
				t.Errorf("carrier %s, data_dir %s", cfg.SIP.Carrier, cfg.DataDir)
			}
			if strings.HasPrefix(name, "import") {
				if s.NetworkMode != "none" || !slices.Contains(s.Command, "import") || !slices.Contains(s.Volumes, "gk-"+name[len(name)-1:]+":/var/lib/gatekeeper") {
					t.Errorf("%s: %+v: want an import into its node's volume", name, s)
				}
			} else {
				gatekeeperIPs = append(gatekeeperIPs, s.Networks["sip"].IPv4)
			}
		})
	}

	for _, name := range []string{"nats-a", "nats-b", "nats-c"} {
		s := services[name]
		t.Run(name, func(t *testing.T) {
			file := configFile(t, s, "/etc/nats/nats.conf")
			t.Setenv("NATS_NAME", s.Environment["NATS_NAME"])
			opts, err := server.ProcessConfigFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var routes []string
			for _, r := range opts.Routes {
				routes = append(routes, r.Host)
			}
			if opts.ServerName != name || !opts.JetStream || !opts.SyncAlways || opts.Cluster.Name == "" ||
				strings.Join(routes, " ") != "nats-a:6222 nats-b:6222 nats-c:6222" || opts.Port != 4222 {
				t.Errorf("server %s: jetstream %v, sync always %v, cluster %q, routes %v, port %d",
					opts.ServerName, opts.JetStream, opts.SyncAlways, opts.Cluster.Name, routes, opts.Port)
			}
		})
	}

	t.Run("dispatcher", func(t *testing.T) {
		s := services["dispatcher"]
		list, err := os.ReadFile(configFile(t, s, "/etc/kamailio/dispatcher.list"))
		if err != nil {
			t.Fatal(err)
		}
		var listed []string
		for _, m := range regexp.MustCompile(`(?m)^1 sip:([0-9.]+):5060 `).FindAllStringSubmatch(string(list), -1) {
			listed = append(listed, m[1])
		}
		if !slices.Equal(listed, gatekeeperIPs) {
			t.Errorf("dispatcher.list names %v, the gatekeepers are at %v", listed, gatekeeperIPs)
		}
		if _, err := exec.LookPath("kamailio"); err != nil {
			t.Skip("kamailio is not installed (Debian package kamailio)")
		}
		args := []string{"-c", "-f", configFile(t, s, "/etc/kamailio/kamailio-dispatcher.cfg"),
			"-A", `DS_LIST="` + configFile(t, s, "/etc/kamailio/dispatcher.list") + `"`}
		for i, a := range s.Command {
			if a == "-A" {
				args = append(args, "-A", s.Command[i+1])
			}
		}
		if out, err := exec.Command("kamailio", args...).CombinedOutput(); err != nil || !strings.Contains(string(out), "config file ok") {
			t.Errorf("kamailio %v: %v\n%s", args, err, out)
		}
	})
}

// configFile is the shipped file a service mounts at path.
func configFile(t *testing.T, s service, path string) string {
	t.Helper()
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == path {
			abs, err := filepath.Abs(parts[0])
			if err != nil {
				t.Fatal(err)
			}
			return abs
		}
	}
	t.Fatalf("nothing is mounted at %s: %v", path, s.Volumes)
	return ""
}
