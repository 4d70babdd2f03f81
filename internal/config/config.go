// Package config reads gatekeeper.yaml, the file that says where the proxy
// listens, where calls go, who may send them and where data and logs live.
package config

import (
	"bytes"
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/token"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// Defaults of sip.limits.
const (
	DefaultPerSource = 1000  // new INVITEs per second per source address
	DefaultInFlight  = 10000 // INVITE transactions in progress
)

// Config is the whole gatekeeper.yaml.
type Config struct {
	SIP     SIP      `yaml:"sip"`
	Dialers []Dialer `yaml:"dialers"`
	// Campaigns name the seller of each campaign, where the dialer does not send it.
	Campaigns []Campaign `yaml:"campaigns"`
	// DataDir holds the Badger registry (default var/data).
	DataDir string `yaml:"data_dir"`
	Audit   Audit  `yaml:"audit"`
	// Policy is the policy file, relative to the config file.
	Policy string `yaml:"policy"`
	// DefaultRegion decides numbers dialed without a country code (ISO 3166 code).
	DefaultRegion string `yaml:"default_region"`
	Admin         Admin  `yaml:"admin"`
	Import        Import `yaml:"import"`
	Log           Log    `yaml:"log"`
	// Media anchors calls' RTP at the gatekeeper (off by default).
	Media Media `yaml:"media"`
	// Cluster shares live opt-outs, consents and frequency caps with other
	// gatekeepers; nil: this one runs alone.
	Cluster *Cluster `yaml:"cluster"`

	// Dir is the folder of the config file. Every relative path in the file
	// (data_dir, audit.dir, policy, admin.socket) is taken from it; for the
	// embedded defaults it is empty, and they are taken from the working directory.
	Dir string `yaml:"-"`
	// file and text are the config file's name and contents, for ErrorAt.
	file string
	text []byte
}

// SIP says where the proxy listens and where it sends calls.
type SIP struct {
	// Listen holds transport URLs: udp://IP:PORT, tcp://IP:PORT,
	// tls://IP:PORT (which needs TLS.Cert and TLS.Key); an IPv6 address goes
	// in brackets (udp://[::1]:5060).
	Listen []string `yaml:"listen"`
	// Carrier is the next hop for every outbound call, e.g. sip:127.0.0.1:5070
	// or sip:[::1]:5070, over TLS sips:127.0.0.1:5061 or
	// sip:127.0.0.1:5061;transport=tls; the proxy needs a listen address of
	// its transport in its IP family.
	Carrier string `yaml:"carrier"`
	// CarrierTransport is udp, tcp or tls (default udp); a sips: carrier or
	// its ;transport= parameter wins.
	CarrierTransport string `yaml:"carrier_transport"`
	// CarrierSources are the addresses or networks the carrier sends from
	// besides the carrier's own address (its answers and in-dialog requests).
	CarrierSources []Prefix `yaml:"carrier_sources"`
	// TLS is the certificate of the tls:// listeners and how TLS peers are checked.
	TLS TLS `yaml:"tls"`
	// LargeRequests says how a request too large for UDP (over 1300 bytes,
	// RFC 3261 §18.1.1) goes to a side reached over UDP: tcp (default; UDP
	// again if the side refuses TCP) or udp, for a UDP-only carrier that
	// drops TCP silently (the datagram is then fragmented by IP).
	LargeRequests string `yaml:"large_requests"`
	// CampaignHeader carries the campaign id (default X-Campaign-ID).
	CampaignHeader string `yaml:"campaign_header"`
	// DialModeHeader overrides a dialer's dial mode per call: automated|manual (default X-Dial-Mode).
	DialModeHeader string `yaml:"dial_mode_header"`
	// SellerHeader names the seller per call (default X-Seller).
	SellerHeader string `yaml:"seller_header"`
	// PrerecordedHeader marks a prerecorded-voice call: yes|no (default X-Prerecorded).
	PrerecordedHeader string `yaml:"prerecorded_header"`
	// DrainTimeout bounds how long SIGTERM waits for transactions in flight (default 32s).
	DrainTimeout Duration `yaml:"drain_timeout"`
	// Limits bound the new INVITEs the proxy takes; beyond them it answers 503.
	Limits Limits `yaml:"limits"`
	// Strangers says what a request from a source that may not send it gets:
	// reject (default: 403) or drop (no answer). Either way it is counted.
	Strangers string `yaml:"strangers"`
}

// Log is what serve logs (to standard error).
type Log struct {
	// Level is the least severe level logged: debug, info (default), warn
	// or error.
	Level string `yaml:"level"`
}

// SlogLevel is Level as log/slog's; check refused any other name.
func (l Log) SlogLevel() slog.Level {
	var level slog.Level
	level.UnmarshalText([]byte(l.Level))
	return level
}

// Limits are checked before the policy, each new INVITE beyond them gets
// 503 with Retry-After.
type Limits struct {
	// PerSource is the new INVITEs per second one source address may send
	// (default 1000; 0: no limit).
	PerSource *float64 `yaml:"per_source"`
	// InFlight is the new INVITE transactions in progress at once, ringing
	// calls included (default 10000; 0: no limit).
	InFlight *int `yaml:"in_flight"`
}

// TLS is the proxy's certificate and how its TLS peers are checked (RFC
// 3261 §26.3.1). File names are relative to the config file.
type TLS struct {
	// Cert and Key are PEM files: the certificate chain the tls:// listeners
	// present and its private key. The same pair is the proxy's client
	// certificate toward a TLS carrier that asks for one.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ClientCA, when set, is a PEM file of the CA certificates that sign the
	// dialers' client certificates: a TLS connection without a client
	// certificate signed by one of them is refused in the handshake. A
	// dialer's source address must still be in its sources.
	ClientCA string `yaml:"client_ca"`
	// CarrierCA is a PEM file of the CA certificates that verify a TLS
	// carrier's certificate (default: the system's roots).
	CarrierCA string `yaml:"carrier_ca"`
	// CarrierName is the name the carrier's certificate must carry, also sent
	// as the server name (SNI); by default the certificate must carry the
	// carrier's IP address.
	CarrierName string `yaml:"carrier_name"`
	// InsecureSkipCarrierVerify accepts any certificate from a TLS carrier:
	// the calls are encrypted but the carrier is not authenticated, so a
	// machine in the path can pose as it. For a lab only.
	InsecureSkipCarrierVerify bool `yaml:"insecure_skip_carrier_verify"`

	// Server is the tls:// listeners' configuration and Carrier the TLS
	// carrier's, built by Load from the files above (nil when not needed).
	Server  *tls.Config `yaml:"-"`
	Carrier *tls.Config `yaml:"-"`
}

// Dialer is one configured source of calls.
type Dialer struct {
	Name      string   `yaml:"name"`
	Sources   []Prefix `yaml:"sources"`
	Automated bool     `yaml:"automated"`
	// Seller is the seller of this dialer's calls when neither the call nor its campaign names one.
	Seller string `yaml:"seller"`
	// Auth, when set, makes the dialer prove these credentials (SIP digest) besides its source.
	Auth *Auth `yaml:"auth"`
	// Media, when set, says whether this dialer's calls have their media anchored.
	Media *MediaChoice `yaml:"media"`
	// AgentSignal, when set, is how the dialer says a live agent came on
	// an anchored call (media.md).
	AgentSignal *AgentSignal `yaml:"agent_signal"`
}

// Auth is a dialer's SIP digest credentials: a username and either the
// password or a file holding it (read at load, its last line break dropped).
type Auth struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// Algorithms are the digest algorithms offered, in order of preference:
	// SHA-256 and MD5 (RFC 8760; default both, SHA-256 first). A dialer that
	// answers the first challenge whatever its algorithm needs [MD5].
	Algorithms []string `yaml:"algorithms"`
}

// Campaign is one campaign's settings.
type Campaign struct {
	ID     string `yaml:"id"`
	Seller string `yaml:"seller"`
	// Media, when set, says whether this campaign's calls have their media
	// anchored, whatever their dialer says.
	Media *MediaChoice `yaml:"media"`
	// SafeHarbor is the campaign's safe-harbor message, the recording its
	// dialer plays when no agent is free within 2 s of the greeting
	// (16 CFR 310.4(b)(4)(iii)): a WAV file of 8 kHz mono 16-bit PCM,
	// relative to the config file. An anchored call of the campaign whose
	// dialer plays it is recorded as abandoned_safe_harbor (docs/media.md).
	SafeHarbor string `yaml:"safe_harbor"`
}

// Audit says where decisions are logged and who signs the log's checkpoints.
type Audit struct {
	Dir string `yaml:"dir"`
	// Key is the private key that signs checkpoints (created on first start;
	// default DATA_DIR/audit.key, outside the audit folder); its public key,
	// for auditors, is Key + ".pub".
	Key string `yaml:"key"`
	// Origin names the log in its checkpoints and key (default
	// "gatekeeper/HOSTNAME"); it takes effect when the key is created.
	Origin string `yaml:"origin"`
	// Sync is when a call's answer may leave: batch (default; decisions are
	// written and fsynced every FlushInterval, a crash loses at most that
	// much) or always (the dialer's final answer leaves only once its
	// decision record is on disk).
	Sync string `yaml:"sync"`
	// FlushInterval is how long a record waits in memory at most (default 10ms).
	FlushInterval Duration `yaml:"flush_interval"`
	// OnFailure is what calls get while the log cannot keep up or write
	// (a compliance gate must not decide calls it cannot record):
	// refuse_automated (default: automated calls get 503 with Retry-After,
	// manual calls go on), refuse_all, or allow.
	OnFailure string `yaml:"on_failure"`
	// MaxFileSize starts a new part of the day's file (default 1GiB).
	MaxFileSize ByteSize `yaml:"max_file_size"`
	// Compress gzips complete files (default true).
	Compress *bool `yaml:"compress"`
	// Retain is how long files are kept: days ("1826d", the default: 5
	// years, 16 CFR 310.5) or forever.
	Retain Retention `yaml:"retain"`
}

// Values of Audit.Sync and Audit.OnFailure.
const (
	SyncBatch  = "batch"
	SyncAlways = "always"

	RefuseAutomated = "refuse_automated"
	RefuseAll       = "refuse_all"
	Allow           = "allow"
)

// Admin is the local control endpoint the CLI uses while serve runs, and
// the HTTP listener for auditors and monitoring.
type Admin struct {
	// Socket is a unix socket path (default DATA_DIR/admin.sock).
	Socket string `yaml:"socket"`
	// HTTP, when set, is the HOST:PORT of the admin HTTP listener: the
	// auditors' page at /, Prometheus metrics at /metrics, profiles at
	// /debug/pprof/ (e.g. 127.0.0.1:9060). An address that is not loopback
	// needs Token or TokenFile.
	HTTP string `yaml:"http"`
	// Metrics is the old name of HTTP, still read; Parse folds it into HTTP.
	Metrics string `yaml:"metrics"`
	// Token, when set, is the secret every request to the HTTP listener
	// must carry (Authorization: Bearer TOKEN).
	Token string `yaml:"token"`
	// TokenFile is a file holding Token (surrounding white space ignored),
	// relative to the config file; Load reads it into Token.
	TokenFile string `yaml:"token_file"`
}

// Import says how imports treat the DNC and port lists.
type Import struct {
	// MaxRemoval is the share of a list's numbers a full import may remove;
	// an import that would remove more is refused unless it says --replace.
	// nil: the registry's default (10%); 100% turns the check off.
	MaxRemoval *Percent `yaml:"max_removal"`
}

// Load reads and checks a config file, and that the policy file it names
// exists. Errors name FILE:LINE:COLUMN.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	cfg.Dir = filepath.Dir(path)
	if cfg.Admin.TokenFile != "" {
		token, err := os.ReadFile(cfg.Path(cfg.Admin.TokenFile))
		if err != nil {
			return nil, yamlx.AtPath(path, data, "$.admin.token_file", "admin.token_file: %v", err)
		}
		if cfg.Admin.Token = strings.TrimSpace(string(token)); cfg.Admin.Token == "" {
			return nil, yamlx.AtPath(path, data, "$.admin.token_file", "admin.token_file: %s is empty", cfg.Path(cfg.Admin.TokenFile))
		}
	}
	if err := cfg.loadTLS(); err != nil {
		return nil, yamlx.AtPath(path, data, err.path, "%s", err.msg)
	}
	if _, err := os.Stat(cfg.Path(cfg.Policy)); errors.Is(err, fs.ErrNotExist) {
		return nil, yamlx.AtPath(path, data, "$.policy", "policy: %s does not exist (a relative path is taken from this file's folder)", cfg.Path(cfg.Policy))
	} else if err != nil {
		return nil, yamlx.AtPath(path, data, "$.policy", "policy: %v", err)
	}
	if err := cfg.readPasswords(); err != nil {
		return nil, yamlx.AtPath(path, data, err.path, "%s", err.msg)
	}
	for i, c := range cfg.Campaigns {
		if c.SafeHarbor == "" {
			continue
		}
		if _, err := os.Stat(cfg.Path(c.SafeHarbor)); err != nil {
			return nil, yamlx.AtPath(path, data, fmt.Sprintf("$.campaigns[%d].safe_harbor", i), "campaigns[%d] (%s): safe_harbor: %v (a relative path is taken from this file's folder)", i, c.ID, err)
		}
	}
	return cfg, nil
}

// readPasswords reads each dialer's password_file into its password.
func (c *Config) readPasswords() *fieldError {
	for i, d := range c.Dialers {
		if d.Auth == nil || d.Auth.PasswordFile == "" {
			continue
		}
		where := fmt.Sprintf("$.dialers[%d].auth.password_file", i)
		text, err := os.ReadFile(c.Path(d.Auth.PasswordFile))
		if err != nil {
			return at(where, "dialers[%d] (%s): auth.password_file: %v (a relative path is taken from this file's folder)", i, d.Name, err)
		}
		d.Auth.Password = strings.TrimSuffix(strings.TrimSuffix(string(text), "\n"), "\r")
		if d.Auth.Password == "" {
			return at(where, "dialers[%d] (%s): auth.password_file: %s is empty", i, d.Name, c.Path(d.Auth.PasswordFile))
		}
	}
	return nil
}

// Parse decodes and checks config text; name is used in error messages.
// Each ${NAME} in the text, outside comments, is first replaced by the
// environment variable NAME (a container takes its carrier and dialer sources this way); a
// reference to a variable that is not set is an error at its place.
func Parse(name string, data []byte) (*Config, error) {
	data, err := expandEnv(name, data)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if err := yamlx.Decode(name, data, &cfg); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if err := cfg.check(); err != nil {
		return nil, yamlx.AtPath(name, data, err.path, "%s", err.msg)
	}
	cfg.file, cfg.text = name, data
	return &cfg, nil
}

// ErrorAt is an error about the value at path ($.campaigns[0].safe_harbor)
// that a caller found wrong after loading, named with the config file's
// FILE:LINE:COL as Load names its own.
func (c *Config) ErrorAt(path, format string, args ...any) error {
	return yamlx.AtPath(c.file, c.text, path, format, args...)
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces each ${NAME} outside comments by the value of the
// environment variable NAME; an unset one is an error at its place.
func expandEnv(name string, data []byte) ([]byte, error) {
	comments := commentColumns(data)
	var out []byte
	last := 0
	for _, m := range envRef.FindAllSubmatchIndex(data, -1) {
		line, col := position(data, m[0])
		if c, ok := comments[line]; ok && col > c {
			continue // an example in a comment
		}
		v, ok := os.LookupEnv(string(data[m[2]:m[3]]))
		if !ok {
			// Comments are told by YAML's lexer, which a syntax error
			// (an unclosed quote) misleads: the file's own error comes first.
			var probe any
			filled := envRef.ReplaceAllFunc(data, func(ref []byte) []byte { return bytes.Repeat([]byte("x"), len(ref)) }) // columns kept
			if err := yamlx.Decode(name, filled, &probe); err != nil {
				return nil, err
			}
			return nil, &yamlx.Error{File: name, Line: line, Column: col,
				Msg: fmt.Sprintf("%s: the environment variable %s is not set", data[m[0]:m[1]], data[m[2]:m[3]])}
		}
		out = append(append(out, data[last:m[0]]...), v...)
		last = m[1]
	}
	return append(out, data[last:]...), nil
}

// commentColumns maps each line that holds a comment to the column where it starts.
func commentColumns(data []byte) map[int]int {
	cols := map[int]int{}
	for _, tk := range lexer.Tokenize(string(data)) {
		if tk.Type == token.CommentType {
			cols[tk.Position.Line] = tk.Position.Column
		}
	}
	return cols
}

// position is the line and column (in characters, from 1) of byte offset i.
func position(data []byte, i int) (line, col int) {
	start := bytes.LastIndexByte(data[:i], '\n') + 1
	return bytes.Count(data[:start], []byte("\n")) + 1, utf8.RuneCount(data[start:i]) + 1
}

func (c *Config) setDefaults() {
	if c.SIP.CampaignHeader == "" {
		c.SIP.CampaignHeader = "X-Campaign-ID"
	}
	if c.SIP.DialModeHeader == "" {
		c.SIP.DialModeHeader = "X-Dial-Mode"
	}
	if c.SIP.SellerHeader == "" {
		c.SIP.SellerHeader = "X-Seller"
	}
	if c.SIP.PrerecordedHeader == "" {
		c.SIP.PrerecordedHeader = "X-Prerecorded"
	}
	if c.SIP.CarrierTransport == "" {
		c.SIP.CarrierTransport = "udp"
	}

	if c.SIP.LargeRequests == "" {
		c.SIP.LargeRequests = "tcp"
	}
	if c.SIP.DrainTimeout == 0 {
		c.SIP.DrainTimeout = Duration(32e9)
	}
	if c.SIP.Limits.PerSource == nil {
		c.SIP.Limits.PerSource = new(float64(DefaultPerSource))
	}
	if c.SIP.Limits.InFlight == nil {
		c.SIP.Limits.InFlight = new(DefaultInFlight)
	}
	if c.SIP.Strangers == "" {
		c.SIP.Strangers = "reject"
	}
	if c.DefaultRegion == "" {
		c.DefaultRegion = "US"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.DataDir == "" {
		c.DataDir = "var/data"
	}
	if c.Cluster != nil {
		c.Cluster.setDefaults(c.DataDir)
	}
	if c.Audit.Dir == "" {
		c.Audit.Dir = "var/audit"
	}
	if c.Audit.Key == "" {
		c.Audit.Key = filepath.Join(c.DataDir, "audit.key")
	}
	if c.Audit.Sync == "" {
		c.Audit.Sync = SyncBatch
	}
	if c.Audit.FlushInterval == 0 {
		c.Audit.FlushInterval = Duration(10 * time.Millisecond)
	}
	if c.Audit.OnFailure == "" {
		c.Audit.OnFailure = RefuseAutomated
	}
	if c.Audit.MaxFileSize == 0 {
		c.Audit.MaxFileSize = 1 << 30
	}
	if c.Audit.Compress == nil {
		compress := true
		c.Audit.Compress = &compress
	}
	if c.Audit.Retain == 0 {
		c.Audit.Retain = Retention(1826 * 24 * time.Hour)
	}
	if c.Audit.Origin == "" {
		host, _ := os.Hostname()
		c.Audit.Origin = "gatekeeper/" + strings.Map(func(r rune) rune {
			if r <= ' ' || r == '+' {
				return '-'
			}
			return r
		}, cmp.Or(host, "localhost"))
	}
}

// fieldError is a check that failed at a YAML path ($.sip.carrier).
type fieldError struct{ path, msg string }

func at(path, format string, args ...any) *fieldError {
	return &fieldError{path, fmt.Sprintf(format, args...)}
}

func (c *Config) check() *fieldError {
	if len(c.SIP.Listen) == 0 {
		return at("$.sip", "sip.listen: give at least one address, e.g. udp://127.0.0.1:5060")
	}
	for i, l := range c.SIP.Listen {
		if _, _, err := SplitListen(l); err != nil {
			return at(fmt.Sprintf("$.sip.listen[%d]", i), "%v", err)
		}
	}
	if c.Policy == "" {
		return at("$.policy", "policy: the policy file is missing, e.g. policy: policy.yaml")
	}
	if c.SIP.Carrier == "" {
		return at("$.sip", "sip.carrier: the carrier's address is missing, e.g. sip:127.0.0.1:5070")
	}
	carrierIP, err := checkCarrier(c.SIP.Carrier)
	if err != nil {
		return at("$.sip.carrier", "sip.carrier: %q %v", c.SIP.Carrier, err)
	}
	if t := c.SIP.CarrierTransport; t != "udp" && t != "tcp" && t != "tls" {
		return at("$.sip.carrier_transport", "sip.carrier_transport: %q is not udp, tcp or tls", t)
	}
	// The proxy sends to the carrier from a listen address of the carrier's transport and IP family.
	if t := c.carrierTransport(); !c.listensFor(t, carrierIP) {
		family := "IPv4"
		if carrierIP.Unmap().Is6() {
			family = "IPv6"
		}
		return at("$.sip.carrier", "sip.carrier: %s is reached over %s and %s, but sip.listen has no %s://%s address", c.SIP.Carrier, t, family, t, family)
	}
	if err := c.checkTLS(); err != nil {
		return err
	}
	if t := c.SIP.LargeRequests; t != "udp" && t != "tcp" {
		return at("$.sip.large_requests", "sip.large_requests: %q is not tcp or udp", t)
	}
	if n := *c.SIP.Limits.PerSource; n < 0 {
		return at("$.sip.limits.per_source", "sip.limits.per_source: %v is negative (new INVITEs per second per source; 0: no limit)", n)
	}
	if n := *c.SIP.Limits.InFlight; n < 0 {
		return at("$.sip.limits.in_flight", "sip.limits.in_flight: %d is negative (INVITE transactions in progress; 0: no limit)", n)
	}
	if s := c.SIP.Strangers; s != "reject" && s != "drop" {
		return at("$.sip.strangers", "sip.strangers: %q is not reject or drop", s)
	}
	if l := c.Log.Level; l != "debug" && l != "info" && l != "warn" && l != "error" {
		return at("$.log.level", "log.level: %q is not debug, info, warn or error", l)
	}
	if !number.KnownRegion(c.DefaultRegion) {
		return at("$.default_region", "default_region: %q is not a country code (ISO 3166, e.g. US)", c.DefaultRegion)
	}
	if err := c.Admin.check(); err != nil {
		return err
	}
	if len(c.Dialers) == 0 {
		return at("$.dialers", "dialers: no dialer is configured, so no call could pass")
	}
	dialerNames := make([]string, len(c.Dialers))
	for i, d := range c.Dialers {
		dialerNames[i] = d.Name
		if len(d.Sources) == 0 {
			return at(fmt.Sprintf("$.dialers[%d].sources", i), "dialers[%d] (%s): sources is empty", i, d.Name)
		}
		if err := d.Auth.check(fmt.Sprintf("$.dialers[%d].auth", i), fmt.Sprintf("dialers[%d] (%s)", i, d.Name)); err != nil {
			return err
		}
		if err := d.AgentSignal.check(fmt.Sprintf("$.dialers[%d].agent_signal", i), fmt.Sprintf("dialers[%d] (%s)", i, d.Name)); err != nil {
			return err
		}
	}
	if err := checkUnique("dialers", "name", dialerNames); err != nil {
		return err
	}
	if err := c.Audit.check(); err != nil {
		return err
	}
	if err := c.checkMedia(); err != nil {
		return err
	}
	if c.Cluster != nil {
		if err := c.Cluster.check(); err != nil {
			return err
		}
	}
	campaignIDs := make([]string, len(c.Campaigns))
	for i, cp := range c.Campaigns {
		campaignIDs[i] = cp.ID
	}
	return checkUnique("campaigns", "id", campaignIDs)
}

// check checks the HTTP listener's address and that one that is not
// loopback has a token, and folds the old key metrics into HTTP.
func (a *Admin) check() *fieldError {
	key, addr := "http", a.HTTP
	if a.Metrics != "" {
		if a.HTTP != "" {
			return at("$.admin.metrics", "admin.metrics is the old name of admin.http: give only admin.http")
		}
		key, addr = "metrics", a.Metrics
		a.HTTP = a.Metrics
	}
	if a.Token != "" && a.TokenFile != "" {
		return at("$.admin.token_file", "admin.token_file: give admin.token or admin.token_file, not both")
	}
	if addr == "" {
		return nil
	}
	if err := checkHostPort(addr); err != nil {
		return at("$.admin."+key, "admin.%s: %q %v", key, addr, err)
	}
	if !isLoopback(addr) && a.Token == "" && a.TokenFile == "" {
		return at("$.admin."+key, "admin.%s: %q is not a loopback address: set admin.token or admin.token_file, the secret every request must carry (Authorization: Bearer TOKEN)", key, addr)
	}
	return nil
}

// check reports an auth section without a username or without exactly one
// of password and password_file.
func (a *Auth) check(path, dialer string) *fieldError {
	switch {
	case a == nil:
		return nil
	case a.Username == "":
		return at(path, "%s: auth.username is missing", dialer)
	case a.Password == "" && a.PasswordFile == "":
		return at(path, "%s: auth needs password or password_file", dialer)
	case a.Password != "" && a.PasswordFile != "":
		return at(path+".password_file", "%s: auth has both password and password_file: keep one", dialer)
	}
	for i, alg := range a.Algorithms {
		if alg != "SHA-256" && alg != "MD5" {
			return at(fmt.Sprintf("%s.algorithms[%d]", path, i), "%s: auth.algorithms: %q is not SHA-256 or MD5", dialer, alg)
		}
	}
	return nil
}

// isLoopback says whether a checked HOST:PORT binds loopback only (an empty
// host binds every address).
func isLoopback(hostport string) bool {
	host, _, _ := net.SplitHostPort(hostport)
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func (a *Audit) check() *fieldError {
	if a.Sync != SyncBatch && a.Sync != SyncAlways {
		return at("$.audit.sync", "audit.sync: %q is not batch or always", a.Sync)
	}
	if a.OnFailure != RefuseAutomated && a.OnFailure != RefuseAll && a.OnFailure != Allow {
		return at("$.audit.on_failure", "audit.on_failure: %q is not refuse_automated, refuse_all or allow", a.OnFailure)
	}
	if d := time.Duration(a.FlushInterval); d > time.Second {
		return at("$.audit.flush_interval", "audit.flush_interval: %v is more than 1s: a crash would lose that much", d)
	}
	if a.MaxFileSize < 1<<20 {
		return at("$.audit.max_file_size", "audit.max_file_size: %d bytes is less than 1MiB", a.MaxFileSize)
	}
	return nil
}

// checkUnique reports the first missing or repeated key of a section's entries.
func checkUnique(section, field string, keys []string) *fieldError {
	seen := map[string]bool{}
	for i, k := range keys {
		if k == "" {
			return at(fmt.Sprintf("$.%s[%d]", section, i), "%s[%d]: %s is missing", section, i, field)
		}
		if seen[k] {
			return at(fmt.Sprintf("$.%s[%d].%s", section, i, field), "%s[%d]: %s %q is used twice", section, i, field, k)
		}
		seen[k] = true
	}
	return nil
}

// checkCarrier checks the carrier's SIP URI: scheme sip, an IP address (the
// proxy resolves no names) and a port that exists. It names what is wrong.
func checkCarrier(uri string) (netip.Addr, error) {
	rest, ok := strings.CutPrefix(uri, "sip:")
	if !ok {
		rest, ok = strings.CutPrefix(uri, "sips:")
	}
	if !ok {
		return netip.Addr{}, fmt.Errorf("is not a SIP URI: write it as sip:IP:PORT, e.g. sip:192.0.2.10:5060 (sips:IP:PORT over TLS)")
	}
	hostport, _, _ := strings.Cut(rest, ";") // URI parameters, e.g. ;transport=tcp
	if ip, err := netip.ParseAddr(strings.Trim(hostport, "[]")); err == nil {
		return ip, nil // no port: 5060, over TLS 5061
	}
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("does not name an IP address and a port from 1 to 65535 (sip:IP:PORT): %s", portProblem(hostport))
	}
	return ap.Addr(), nil
}

// carrierTransport is how calls reach the carrier: tls for a sips: URI,
// else the URI's ;transport= parameter, else sip.carrier_transport.
func (c *Config) carrierTransport() string {
	if strings.HasPrefix(c.SIP.Carrier, "sips:") {
		return "tls"
	}
	for _, p := range strings.Split(c.SIP.Carrier, ";")[1:] {
		if v, ok := strings.CutPrefix(strings.ToLower(p), "transport="); ok {
			return v
		}
	}
	return c.SIP.CarrierTransport
}

// listensFor tells whether some listen address has this transport and the IP family of ip.
func (c *Config) listensFor(transport string, ip netip.Addr) bool {
	for _, l := range c.SIP.Listen {
		network, addr, _ := SplitListen(l) // checked before
		if ap, err := netip.ParseAddrPort(addr); err == nil && network == transport && ap.Addr().Unmap().Is4() == ip.Unmap().Is4() {
			return true
		}
	}
	return false
}

// checkHostPort checks an HTTP listen address: HOST:PORT with a port from 1
// to 65535 (HOST may be empty for every address).
func checkHostPort(hostport string) error {
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("is not HOST:PORT, e.g. 127.0.0.1:9060")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %s is not from 1 to 65535", port)
	}
	return nil
}

// portProblem says why host:port does not parse, in the admin's words.
func portProblem(hostport string) string {
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 {
		return "no port"
	}
	host, port := strings.Trim(hostport[:i], "[]"), hostport[i+1:]
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Sprintf("%q is not an IP address (names are not resolved)", host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("port %s is not from 1 to 65535", port)
	}
	return "not IP:PORT"
}

// SplitListen splits "udp://127.0.0.1:5060" into network (udp, tcp or tls) and address.
func SplitListen(l string) (network, addr string, err error) {
	network, addr, ok := strings.Cut(l, "://")
	if !ok || (network != "udp" && network != "tcp" && network != "tls") || addr == "" {
		return "", "", fmt.Errorf("sip.listen: %q is not udp://IP:PORT, tcp://IP:PORT or tls://IP:PORT", l)
	}
	if _, err := netip.ParseAddrPort(addr); err != nil {
		return "", "", fmt.Errorf("sip.listen: %q is not udp://IP:PORT, tcp://IP:PORT or tls://IP:PORT: %s", l, portProblem(addr))
	}
	return network, addr, nil
}

// Path resolves a path from the config file against the config's folder.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.Dir == "" {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// AdminSocket is the unix socket of the running server's admin endpoint.
func (c *Config) AdminSocket() string {
	if c.Admin.Socket != "" {
		return c.Path(c.Admin.Socket)
	}
	return filepath.Join(c.Path(c.DataDir), "admin.sock")
}

// Prefix is a source network: "127.0.0.0/8" or a single address "10.1.2.3".
type Prefix struct{ netip.Prefix }

func (p *Prefix) UnmarshalYAML(node ast.Node) error {
	s, err := yamlx.String(node)
	if err != nil {
		return err
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return yamlx.At(node, "%q is not an address or network (CIDR)", s)
		}
		p.Prefix = netip.PrefixFrom(a, a.BitLen())
		return nil
	}
	pr, err := netip.ParsePrefix(s)
	if err != nil {
		// netip names its calls and the text: netip.ParsePrefix("..."): [ParseAddr("..."): ]why
		why := err.Error()
		if i := strings.LastIndex(why, "): "); i >= 0 {
			why = why[i+3:]
		}
		return yamlx.At(node, "%q is not a network (CIDR): %s", s, why)
	}
	p.Prefix = pr.Masked()
	return nil
}
