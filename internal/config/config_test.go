package config

import (
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/configs"
)

func TestShippedConfigLoads(t *testing.T) {
	data, err := configs.Files.ReadFile("gatekeeper.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("gatekeeper.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SIP.Carrier != "sip:127.0.0.1:5070" || len(cfg.Dialers) != 1 || !cfg.Dialers[0].Automated ||
		cfg.SIP.CampaignHeader != "X-Campaign-ID" || cfg.SIP.DialModeHeader != "X-Dial-Mode" ||
		time.Duration(cfg.SIP.DrainTimeout) != 32*time.Second || cfg.DefaultRegion != "US" {
		t.Fatalf("unexpected config: %+v", cfg)
	}
	if !cfg.Dialers[0].Sources[0].Contains(mustAddr(t, "127.0.0.9")) {
		t.Fatal("127.0.0.0/8 does not hold 127.0.0.9")
	}
}

func TestPathsAreRelativeToTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gk.yaml")
	os.WriteFile(path, []byte("sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [10.1.2.3]\ndata_dir: data\npolicy: p.yaml\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("rules: []\n"), 0o644)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path(cfg.DataDir) != filepath.Join(dir, "data") || cfg.Path(cfg.Policy) != filepath.Join(dir, "p.yaml") ||
		cfg.AdminSocket() != filepath.Join(dir, "data", "admin.sock") {
		t.Fatalf("paths: %s %s %s", cfg.Path(cfg.DataDir), cfg.Path(cfg.Policy), cfg.AdminSocket())
	}
	if got := cfg.Dialers[0].Sources[0].String(); got != "10.1.2.3/32" {
		t.Fatalf("single address became %s", got)
	}
}

func TestBadConfigsNameThePlace(t *testing.T) {
	base := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [127.0.0.0/8]\npolicy: p.yaml\n"
	cases := map[string]string{
		base + "bogus: 1\n": "gk.yaml:8:1: unknown field \"bogus\"",
		strings.Replace(base, "127.0.0.0/8", "127.0.0/33", 1):                                                   "gk.yaml:6:15: \"127.0.0/33\" is not a network (CIDR): IPv4 address too short",
		strings.Replace(base, "udp://", "sctp://", 1):                                                           "sip.listen: \"sctp://127.0.0.1:5060\" is not udp://IP:PORT, tcp://IP:PORT or tls://IP:PORT",
		strings.Replace(base, "  carrier:", "  drain_timeout: soon\n  carrier:", 1):                             "gk.yaml:3:18: \"soon\" is not a duration",
		base + "campaigns:\n  - id: a\n    seller: x\n  - id: a\n":                                              "campaigns[1]: id \"a\" is used twice",
		strings.Replace(base, "policy: p.yaml\n", "", 1):                                                        "policy: the policy file is missing",
		strings.Replace(base, "  - name: d\n    sources: [127.0.0.0/8]\n", "  - name: d\n    sources: []\n", 1): "sources is empty",
	}
	for src, want := range cases {
		_, err := Parse("gk.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to contain %q", err, want)
		}
	}
}

// Every mistake is named at its place, in the admin's words, when the file is
// loaded: nothing has been created or started yet.
func TestBadValuesAreNamedAtTheirPlace(t *testing.T) {
	base := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [127.0.0.0/8]\n    automated: true\npolicy: p.yaml\n"
	cases := map[string]string{
		strings.Replace(base, "sip:127.0.0.1:5070", "sip:127.0.0.1:99999", 1):              `gk.yaml:3:12: sip.carrier: "sip:127.0.0.1:99999" does not name an IP address and a port from 1 to 65535 (sip:IP:PORT): port 99999 is not from 1 to 65535`,
		strings.Replace(base, "sip:127.0.0.1:5070", "127.0.0.1:5070", 1):                   `gk.yaml:3:12: sip.carrier: "127.0.0.1:5070" is not a SIP URI: write it as sip:IP:PORT`,
		strings.Replace(base, "sip:127.0.0.1:5070", "sip:carrier.example:5060", 1):         `gk.yaml:3:12: sip.carrier: "sip:carrier.example:5060" does not name an IP address and a port from 1 to 65535 (sip:IP:PORT): "carrier.example" is not an IP address (names are not resolved)`,
		strings.Replace(base, "127.0.0.1:5060", "127.0.0.1:70000", 1):                      `gk.yaml:2:12: sip.listen: "udp://127.0.0.1:70000" is not udp://IP:PORT, tcp://IP:PORT or tls://IP:PORT: port 70000 is not from 1 to 65535`,
		strings.Replace(base, "automated: true", `automated: "yes please"`, 1):             `gk.yaml:7:16: "yes please" is not true or false`,
		strings.Replace(base, "sources: [127.0.0.0/8]", "sources: 127.0.0.0/8", 1):         "gk.yaml:6:14: want a list here, not a single value",
		base + "campaigns:\n  - id: a\n  - id: a\n":                                        `gk.yaml:11:9: campaigns[1]: id "a" is used twice`,
		base + "default_region: USA\n":                                                     `gk.yaml:9:17: default_region: "USA" is not a country code (ISO 3166, e.g. US)`,
		strings.Replace(base, "sip:127.0.0.1:5070", "sip:[::1]:5070", 1):                   `gk.yaml:3:12: sip.carrier: sip:[::1]:5070 is reached over udp and IPv6, but sip.listen has no udp://IPv6 address`,
		strings.Replace(base, "sip:127.0.0.1:5070", "sip:127.0.0.1:5070;transport=tcp", 1): `gk.yaml:3:12: sip.carrier: sip:127.0.0.1:5070;transport=tcp is reached over tcp and IPv4, but sip.listen has no tcp://IPv4 address`,
		base + "admin:\n  metrics: 127.0.0.1:99999\n":                                      `gk.yaml:10:12: admin.metrics: "127.0.0.1:99999" port 99999 is not from 1 to 65535`,
		base + "admin:\n  metrics: 9060\n":                                                 `gk.yaml:10:12: admin.metrics: "9060" is not HOST:PORT, e.g. 127.0.0.1:9060`,
		base + "admin:\n  http: 0.0.0.0:9060\n":                                            `gk.yaml:10:9: admin.http: "0.0.0.0:9060" is not a loopback address: set admin.token or admin.token_file`,
		base + "admin:\n  metrics: :9060\n":                                                `gk.yaml:10:12: admin.metrics: ":9060" is not a loopback address`,
		base + "admin:\n  http: 127.0.0.1:9060\n  metrics: 127.0.0.1:9061\n":               `gk.yaml:11:12: admin.metrics is the old name of admin.http: give only admin.http`,
		base + "admin:\n  http: 127.0.0.1:9060\n  token: a\n  token_file: t\n":             `gk.yaml:12:15: admin.token_file: give admin.token or admin.token_file, not both`,
		strings.Replace(base, "  carrier:", "  large_requests: fragment\n  carrier:", 1):   `gk.yaml:3:19: sip.large_requests: "fragment" is not tcp or udp`,
	}
	for src, want := range cases {
		_, err := Parse("gk.yaml", []byte(src))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("got %v\nwant %s", err, want)
		}
	}
	both := strings.Replace(base, `["udp://127.0.0.1:5060"]`, `["udp://127.0.0.1:5060", "tcp://[::1]:5060"]`, 1)
	for _, ok := range []string{"sip:127.0.0.1", "sip:192.0.2.1:5060", "sip:[::1]:5070;transport=tcp"} {
		if _, err := Parse("gk.yaml", []byte(strings.Replace(both, "sip:127.0.0.1:5070", ok, 1))); err != nil {
			t.Errorf("carrier %s: %v", ok, err)
		}
	}
}

// admin.metrics, the old key, still opens the listener; loopback needs no
// token, any other address takes one from the config or a file.
func TestAdminHTTPListener(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gk.yaml")
	base := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [10.1.2.3]\npolicy: p.yaml\n"
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("rules: []\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret-token\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600)
	for admin, want := range map[string]string{
		"  metrics: 127.0.0.1:9060\n":                       "127.0.0.1:9060 ",
		"  http: '[::1]:9060'\n":                            "[::1]:9060 ",
		"  http: localhost:9060\n":                          "localhost:9060 ",
		"  http: 192.0.2.1:9060\n  token_file: token\n":     "192.0.2.1:9060 s3cret-token",
		"  http: 0.0.0.0:9060\n  token: ${GK_TEST_TOKEN}\n": "0.0.0.0:9060 from-env",
	} {
		t.Setenv("GK_TEST_TOKEN", "from-env")
		os.WriteFile(path, []byte(base+"admin:\n"+admin), 0o644)
		cfg, err := Load(path)
		if err != nil {
			t.Errorf("%s: %v", admin, err)
			continue
		}
		if got := cfg.Admin.HTTP + " " + cfg.Admin.Token; got != want {
			t.Errorf("%s: got %q, want %q", admin, got, want)
		}
	}
	for file, want := range map[string]string{
		"missing": path + ":10:15: admin.token_file: open " + filepath.Join(dir, "missing") + ": no such file",
		"empty":   path + ":10:15: admin.token_file: " + filepath.Join(dir, "empty") + " is empty",
	} {
		os.WriteFile(path, []byte(base+"admin:\n  http: 192.0.2.1:9060\n  token_file: "+file+"\n"), 0o644)
		if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("got %v, want %s...", err, want)
		}
	}
}

func TestMissingPolicyFileIsNamedAtItsKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gk.yaml")
	os.WriteFile(path, []byte("sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [10.1.2.3]\npolicy: nowhere.yaml\n"), 0o644)
	_, err := Load(path)
	if want := path + ":7:9: policy: " + filepath.Join(dir, "nowhere.yaml") + " does not exist"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want %s...", err, want)
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The container's config loads with its carrier and dialer sources from the
// environment, listens on every address, and keeps its data on the volume.
func TestContainerConfigTakesTheEnvironment(t *testing.T) {
	data, err := os.ReadFile("../../configs/container.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GATEKEEPER_CARRIER", "sip:203.0.113.10:5060")
	t.Setenv("GATEKEEPER_DIALER_SOURCES", "10.20.0.0/16, 192.0.2.7")
	cfg, err := Parse("container.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, s := range cfg.Dialers[0].Sources {
		sources = append(sources, s.String())
	}
	if cfg.SIP.Carrier != "sip:203.0.113.10:5060" || strings.Join(sources, " ") != "10.20.0.0/16 192.0.2.7/32" ||
		strings.Join(cfg.SIP.Listen, " ") != "udp://0.0.0.0:5060 tcp://0.0.0.0:5060" ||
		cfg.DataDir != "/var/lib/gatekeeper/data" || cfg.Audit.Dir != "/var/lib/gatekeeper/audit" {
		t.Fatalf("container config: %+v", cfg)
	}

	// A reference in a comment is an example: neither expanded nor required.
	commented := strings.Replace(string(data), "policy: policy.yaml", "policy: policy.yaml  # é ${GATEKEEPER_UNSET}", 1) + "# token: ${GATEKEEPER_UNSET}\n"
	if _, err := Parse("container.yaml", []byte(commented)); err != nil {
		t.Fatalf("a reference in a comment: %v", err)
	}

	os.Unsetenv("GATEKEEPER_CARRIER")
	if _, err := Parse("container.yaml", data); err == nil || !regexp.MustCompile(
		`^container\.yaml:\d+:13: \$\{GATEKEEPER_CARRIER\}: the environment variable GATEKEEPER_CARRIER is not set$`).MatchString(err.Error()) {
		t.Fatalf("unset carrier: %v", err)
	}
	// An unclosed quote before a commented reference: the file's syntax
	// error is told, not the comment's variable (the lexer then reads the
	// comment as part of the quoted text).
	unclosed := "sip:\n  listen: [\"udp://127.0.0.1:5060]\n  carrier: sip:127.0.0.1:5070\n# carrier: ${GATEKEEPER_UNSET}\ndialers: []\n"
	if _, err := Parse("gk.yaml", []byte(unclosed)); err == nil || strings.Contains(err.Error(), "GATEKEEPER_UNSET") || !strings.HasPrefix(err.Error(), "gk.yaml:") {
		t.Errorf("an unclosed quote before a commented reference: %v", err)
	}
	t.Setenv("GATEKEEPER_CARRIER", "203.0.113.10")
	if _, err := Parse("container.yaml", data); err == nil || !strings.Contains(err.Error(), `sip.carrier: "203.0.113.10" is not a SIP URI`) {
		t.Fatalf("carrier without scheme: %v", err)
	}
}

// import.max_removal is a percentage from 0% to 100%, read as a share; left out, it is nil.
func TestImportMaxRemoval(t *testing.T) {
	base := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [127.0.0.0/8]\npolicy: p.yaml\n"
	if cfg, err := Parse("gk.yaml", []byte(base)); err != nil || cfg.Import.MaxRemoval != nil {
		t.Errorf("without the key: %+v %v", cfg.Import, err)
	}
	for value, want := range map[string]float64{"25%": 0.25, "0%": 0, "100%": 1, "2.5 %": 0.025} {
		cfg, err := Parse("gk.yaml", []byte(base+"import:\n  max_removal: "+value+"\n"))
		if err != nil || cfg.Import.MaxRemoval == nil || float64(*cfg.Import.MaxRemoval) != want {
			t.Errorf("%s: %+v %v; want %v", value, cfg, err, want)
		}
	}
	for value, want := range map[string]string{
		"150%": `gk.yaml:9:16: "150%" is not a percentage from 0% to 100%, such as 10%`,
		"10":   `gk.yaml:9:16: "10" is not a percentage from 0% to 100%, such as 10%`,
		"lots": `gk.yaml:9:16: "lots" is not a percentage`,
	} {
		if _, err := Parse("gk.yaml", []byte(base+"import:\n  max_removal: "+value+"\n")); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: %v; want %q", value, err, want)
		}
	}
}

func TestLimitsStrangersAndAuth(t *testing.T) {
	base := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [127.0.0.0/8]\npolicy: p.yaml\n"
	cfg, err := Parse("gk.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.SIP.Limits.PerSource != DefaultPerSource || *cfg.SIP.Limits.InFlight != DefaultInFlight || cfg.SIP.Strangers != "reject" {
		t.Errorf("defaults: limits %v/%v, strangers %q", *cfg.SIP.Limits.PerSource, *cfg.SIP.Limits.InFlight, cfg.SIP.Strangers)
	}
	off := strings.Replace(base, "  carrier:", "  limits: {per_source: 0, in_flight: 0}\n  strangers: drop\n  carrier_sources: [203.0.113.0/28]\n  carrier:", 1)
	if cfg, err = Parse("gk.yaml", []byte(off)); err != nil {
		t.Fatal(err)
	}
	if *cfg.SIP.Limits.PerSource != 0 || *cfg.SIP.Limits.InFlight != 0 || cfg.SIP.Strangers != "drop" || cfg.SIP.CarrierSources[0].String() != "203.0.113.0/28" {
		t.Errorf("0 turns a limit off: limits %v/%v, strangers %q", *cfg.SIP.Limits.PerSource, *cfg.SIP.Limits.InFlight, cfg.SIP.Strangers)
	}
	dialer := "    sources: [127.0.0.0/8]\n"
	cases := map[string]string{
		strings.Replace(base, "  carrier:", "  limits:\n    per_source: -5\n  carrier:", 1):                        `gk.yaml:4:17: sip.limits.per_source: -5 is negative`,
		strings.Replace(base, "  carrier:", "  limits:\n    in_flight: lots\n  carrier:", 1):                       `gk.yaml:4:16:`,
		strings.Replace(base, "  carrier:", "  strangers: ignore\n  carrier:", 1):                                  `gk.yaml:3:14: sip.strangers: "ignore" is not reject or drop`,
		strings.Replace(base, "  carrier:", "  carrier_sources: [203.0.113.300]\n  carrier:", 1):                   `gk.yaml:3:21: "203.0.113.300" is not an address or network (CIDR)`,
		strings.Replace(base, dialer, dialer+"    auth:\n      password: x\n", 1):                                  `gk.yaml:8:15: dialers[0] (d): auth.username is missing`,
		strings.Replace(base, dialer, dialer+"    auth:\n      username: d\n", 1):                                  `gk.yaml:8:15: dialers[0] (d): auth needs password or password_file`,
		strings.Replace(base, dialer, dialer+"    auth: {username: d, password: x, password_file: f}\n", 1):        `gk.yaml:7:53: dialers[0] (d): auth has both password and password_file`,
		strings.Replace(base, dialer, dialer+"    auth: {username: d, password: x, algorithms: [MD5, SHA1]}\n", 1): `gk.yaml:7:56: dialers[0] (d): auth.algorithms: "SHA1" is not SHA-256 or MD5`,
	}
	for src, want := range cases {
		_, err := Parse("gk.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to contain %q", err, want)
		}
	}
}

func TestPasswordFileIsReadAtLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gk.yaml")
	text := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [127.0.0.2]\n    auth: {username: d, password_file: secret}\npolicy: p.yaml\n"
	os.WriteFile(path, []byte(text), 0o644)
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("rules: []\n"), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "gk.yaml:7:40: dialers[0] (d): auth.password_file: ") {
		t.Errorf("a missing password file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "secret"), []byte("s3cret\n"), 0o600)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Dialers[0].Auth.Password; got != "s3cret" {
		t.Errorf("password %q, want the file's line without its line break", got)
	}
}

func TestAuditSettings(t *testing.T) {
	base := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [127.0.0.0/8]\npolicy: p.yaml\naudit:\n  dir: a\n"
	cfg, err := Parse("gk.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Audit; a.Sync != SyncBatch || a.OnFailure != RefuseAutomated || time.Duration(a.FlushInterval) != 10*time.Millisecond ||
		a.MaxFileSize != 1<<30 || !*a.Compress || time.Duration(a.Retain) != 1826*24*time.Hour {
		t.Errorf("defaults: %+v", a)
	}
	cfg, err = Parse("gk.yaml", []byte(base+"  sync: always\n  on_failure: refuse_all\n  max_file_size: 512MiB\n  compress: false\n  retain: forever\n  flush_interval: 5ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Audit; a.Sync != SyncAlways || a.OnFailure != RefuseAll || a.MaxFileSize != 512<<20 || *a.Compress || a.Retain != Forever ||
		time.Duration(a.FlushInterval) != 5*time.Millisecond {
		t.Errorf("settings: %+v", a)
	}
	cases := map[string]string{
		base + "  sync: sometimes\n":        `gk.yaml:10:9: audit.sync: "sometimes" is not batch or always`,
		base + "  on_failure: shrug\n":      `gk.yaml:10:15: audit.on_failure: "shrug" is not refuse_automated, refuse_all or allow`,
		base + "  max_file_size: huge\n":    `gk.yaml:10:18: "huge" is not a size such as 1GiB or 512MiB`,
		base + "  max_file_size: 1000\n":    `gk.yaml:10:18: audit.max_file_size: 1000 bytes is less than 1MiB`,
		base + "  retain: 5y\n":             `gk.yaml:10:11: "5y" is not a number of days such as 1826d (5 years), or forever`,
		base + "  flush_interval: 2s\n":     `gk.yaml:10:19: audit.flush_interval: 2s is more than 1s`,
		base + "  compress: \"maybe so\"\n": `gk.yaml:10:13: "maybe so" is not true or false`,
	}
	for src, want := range cases {
		_, err := Parse("gk.yaml", []byte(src))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("got %v\nwant %s", err, want)
		}
	}
}

func TestLogLevel(t *testing.T) {
	base := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [127.0.0.0/8]\npolicy: p.yaml\n"
	for text, want := range map[string]slog.Level{"": slog.LevelInfo, "log:\n  level: debug\n": slog.LevelDebug, "log:\n  level: warn\n": slog.LevelWarn, "log: {level: error}\n": slog.LevelError} {
		cfg, err := Parse("gk.yaml", []byte(base+text))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Log.SlogLevel(); got != want {
			t.Errorf("%q: level %v, want %v", text, got, want)
		}
	}
	if _, err := Parse("gk.yaml", []byte(base+"log:\n  level: verbose\n")); err == nil || !strings.HasPrefix(err.Error(), `gk.yaml:9:10: log.level: "verbose" is not debug, info, warn or error`) {
		t.Errorf("an unknown level: %v", err)
	}
}

func TestMediaSettings(t *testing.T) {
	base := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: sip:127.0.0.1:5070\ndialers:\n  - name: d\n    sources: [127.0.0.0/8]\npolicy: p.yaml\n"
	cfg, err := Parse("gk.yaml", []byte(base))
	if err != nil || cfg.AnchorsMedia() {
		t.Fatalf("no media section: anchors %v (%v), want off", cfg != nil && cfg.AnchorsMedia(), err)
	}
	on := base + "media:\n  anchor: true\n  address: 127.0.0.1\n  ports: 20000-20099\n  idle_timeout: 30s\n"
	cfg, err = Parse("gk.yaml", []byte(on))
	if err != nil {
		t.Fatal(err)
	}
	if m := cfg.Media; !cfg.AnchorsMedia() || m.Addr.String() != "127.0.0.1" || m.PortLow != 20000 || m.PortHigh != 20099 || m.IdleTimeout != Duration(30e9) {
		t.Fatalf("media read as %+v", m)
	}
	// A campaign alone may anchor; then the relay needs its address.
	if _, err := Parse("gk.yaml", []byte(base+"campaigns:\n  - id: c\n    media:\n      anchor: true\n")); err == nil ||
		!strings.HasPrefix(err.Error(), "gk.yaml:") || !strings.Contains(err.Error(), "media.address: calls are anchored") {
		t.Fatalf("a campaign anchoring without media.address: %v", err)
	}
	cases := map[string]string{
		strings.Replace(on, "127.0.0.1\n  ports", "media.example\n  ports", 1):                        `gk.yaml:10:12: media.address: "media.example" is not an IP address of this host`,
		strings.Replace(on, "20000-20099", "20000", 1):                                                `gk.yaml:11:10: media.ports: "20000" is not LOW-HIGH within 1024-65535`,
		strings.Replace(on, "20000-20099", "20000-20001", 1):                                          `gk.yaml:11:10: media.ports: "20000-20001" is not LOW-HIGH`,
		strings.Replace(on, "20000-20099", "80-20001", 1):                                             `gk.yaml:11:10: media.ports: "80-20001" is not LOW-HIGH`,
		strings.Replace(base, "    sources", "    media: {anchor: maybe}\n    sources", 1):            `gk.yaml:6:21: "maybe" is not true or false`,
		strings.Replace(base, "    sources", "    media: {anchor: true, ports: 1-2}\n    sources", 1): `gk.yaml:6:27: unknown field "ports"`,
	}
	for src, want := range cases {
		_, err := Parse("gk.yaml", []byte(src))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("got %v\nwant %s", err, want)
		}
	}
}
