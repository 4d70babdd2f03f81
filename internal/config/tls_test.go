package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate and its key as PEM files
// dir/NAME.pem and dir/NAME.key.
func selfSigned(t *testing.T, dir, name string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}

const tlsBase = `sip:
  listen: ["udp://127.0.0.1:5060", "tls://127.0.0.1:5061"]
  carrier: sips:127.0.0.1:5071
  tls:
    cert: proxy.pem
    key: proxy.key
    client_ca: dialers.pem
    carrier_ca: carrier.pem
dialers:
  - name: d
    sources: [127.0.0.0/8]
policy: p.yaml
`

// loadTLSConfig writes text as gk.yaml beside the certificates and loads it.
func loadTLSConfig(t *testing.T, dir, text string) (*Config, error) {
	t.Helper()
	path := filepath.Join(dir, "gk.yaml")
	os.WriteFile(path, []byte(text), 0o644)
	return Load(path)
}

func tlsDir(t *testing.T) string {
	dir := t.TempDir()
	for _, name := range []string{"proxy", "dialers", "carrier"} {
		selfSigned(t, dir, name)
	}
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte("rules: []\n"), 0o644)
	return dir
}

// Load builds the listeners' TLS (a client certificate signed by client_ca
// required) and the carrier's (verified by carrier_ca) from sip.tls; a sips:
// carrier is reached over TLS.
func TestTLSConfigLoads(t *testing.T) {
	dir := tlsDir(t)
	cfg, err := loadTLSConfig(t, dir, tlsBase)
	if err != nil {
		t.Fatal(err)
	}
	s, c := cfg.SIP.TLS.Server, cfg.SIP.TLS.Carrier
	if s == nil || len(s.Certificates) != 1 || s.ClientAuth != tls.RequireAndVerifyClientCert || s.ClientCAs == nil || s.MinVersion != tls.VersionTLS12 {
		t.Errorf("listeners' TLS: %+v", s)
	}
	if c == nil || c.RootCAs == nil || c.InsecureSkipVerify || len(c.Certificates) != 1 {
		t.Errorf("carrier's TLS: %+v", c)
	}
	// Without client_ca, TLS dialers need no certificate; over UDP the carrier needs no TLS.
	plain := strings.NewReplacer("    client_ca: dialers.pem\n", "", "    carrier_ca: carrier.pem\n", "", "sips:", "sip:").Replace(tlsBase)
	if cfg, err = loadTLSConfig(t, dir, plain); err != nil {
		t.Fatal(err)
	}
	if s := cfg.SIP.TLS.Server; s == nil || s.ClientAuth != tls.NoClientCert || cfg.SIP.TLS.Carrier != nil {
		t.Errorf("without client_ca and a TLS carrier: %+v, %+v", s, cfg.SIP.TLS.Carrier)
	}
}

// Each mistake in sip.tls is named at its place before anything starts.
func TestBadTLSConfigNamesThePlace(t *testing.T) {
	dir := tlsDir(t)
	os.WriteFile(filepath.Join(dir, "empty.pem"), []byte("no certificate here\n"), 0o644)
	cases := map[string]string{
		strings.Replace(tlsBase, "cert: proxy.pem", "cert: missing.pem", 1):                                                       `gk.yaml:5:11: sip.tls.cert: open ` + filepath.Join(dir, "missing.pem") + `: no such file or directory`,
		strings.Replace(tlsBase, "cert: proxy.pem", "cert: empty.pem", 1):                                                         `gk.yaml:5:11: sip.tls.cert: ` + filepath.Join(dir, "empty.pem") + ` holds no PEM certificate`,
		strings.Replace(tlsBase, "key: proxy.key", "key: carrier.key", 1):                                                         `gk.yaml:6:10: sip.tls.key: ` + filepath.Join(dir, "carrier.key") + ` is not the private key of ` + filepath.Join(dir, "proxy.pem"),
		strings.Replace(tlsBase, "key: proxy.key", "key: proxy.pem", 1):                                                           `gk.yaml:6:10: sip.tls.key: ` + filepath.Join(dir, "proxy.pem") + ` is not the private key of`,
		strings.Replace(tlsBase, "client_ca: dialers.pem", "client_ca: empty.pem", 1):                                             `gk.yaml:7:16: sip.tls.client_ca: ` + filepath.Join(dir, "empty.pem") + ` holds no PEM certificate`,
		strings.Replace(tlsBase, "carrier_ca: carrier.pem", "carrier_ca: nope.pem", 1):                                            `gk.yaml:8:17: sip.tls.carrier_ca: open ` + filepath.Join(dir, "nope.pem"),
		strings.Replace(tlsBase, "    cert: proxy.pem\n    key: proxy.key\n", "", 1):                                              `gk.yaml:2:36: sip.listen: tls://127.0.0.1:5061 needs the proxy's certificate: set sip.tls.cert and sip.tls.key`,
		strings.Replace(tlsBase, "sips:", "sip:", 1):                                                                              `gk.yaml:8:17: sip.tls.carrier_ca: the carrier is not reached over TLS`,
		strings.Replace(tlsBase, `, "tls://127.0.0.1:5061"`, "", 1):                                                               `gk.yaml:3:12: sip.carrier: sips:127.0.0.1:5071 is reached over tls and IPv4, but sip.listen has no tls://IPv4 address`,
		strings.Replace(tlsBase, "carrier_ca: carrier.pem", "insecure_skip_carrier_verify: true\n    carrier_ca: carrier.pem", 1): `sip.tls.insecure_skip_carrier_verify: the carrier's certificate is not checked`,
	}
	for text, want := range cases {
		_, err := loadTLSConfig(t, dir, text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to contain %q\n%s", err, want, text)
		}
	}
}
