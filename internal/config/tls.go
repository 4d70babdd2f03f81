package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"slices"
	"strings"
)

// listensTLS tells whether some listen address is tls://.
func (c *Config) listensTLS() bool {
	return slices.ContainsFunc(c.SIP.Listen, func(l string) bool { return strings.HasPrefix(l, "tls://") })
}

// checkTLS checks that sip.tls holds what the listeners and the carrier
// need, and nothing that would go unused.
func (c *Config) checkTLS() *fieldError {
	t := c.SIP.TLS
	for i, l := range c.SIP.Listen {
		if strings.HasPrefix(l, "tls://") && (t.Cert == "" || t.Key == "") {
			return at(fmt.Sprintf("$.sip.listen[%d]", i), "sip.listen: %s needs the proxy's certificate: set sip.tls.cert and sip.tls.key", l)
		}
	}
	if (t.Cert == "") != (t.Key == "") {
		return at("$.sip.tls", "sip.tls: give cert and key together")
	}
	if t.ClientCA != "" && !c.listensTLS() {
		return at("$.sip.tls.client_ca", "sip.tls.client_ca: no tls:// address in sip.listen takes dialers' certificates")
	}
	if c.carrierTransport() != "tls" {
		for _, f := range []struct {
			key string
			set bool
		}{{"carrier_ca", t.CarrierCA != ""}, {"carrier_name", t.CarrierName != ""}, {"insecure_skip_carrier_verify", t.InsecureSkipCarrierVerify}} {
			if f.set {
				return at("$.sip.tls."+f.key, "sip.tls.%s: the carrier is not reached over TLS (a sips: carrier, ;transport=tls or sip.carrier_transport: tls)", f.key)
			}
		}
	}
	if t.InsecureSkipCarrierVerify && (t.CarrierCA != "" || t.CarrierName != "") {
		return at("$.sip.tls.insecure_skip_carrier_verify", "sip.tls.insecure_skip_carrier_verify: the carrier's certificate is not checked, so carrier_ca and carrier_name would go unused: give one or the other")
	}
	return nil
}

// loadTLS reads the files sip.tls names and builds TLS.Server and
// TLS.Carrier from them. The TLS versions are 1.2 and later (RFC 8996).
func (c *Config) loadTLS() *fieldError {
	t := &c.SIP.TLS
	var certs []tls.Certificate
	if t.Cert != "" {
		pair, err := c.keyPair()
		if err != nil {
			return err
		}
		certs = []tls.Certificate{pair}
	}
	if c.listensTLS() {
		t.Server = &tls.Config{Certificates: certs, MinVersion: tls.VersionTLS12}
		if t.ClientCA != "" {
			pool, err := c.certPool("client_ca", t.ClientCA)
			if err != nil {
				return err
			}
			t.Server.ClientAuth, t.Server.ClientCAs = tls.RequireAndVerifyClientCert, pool
		}
	}
	if c.carrierTransport() == "tls" {
		t.Carrier = &tls.Config{
			Certificates: certs, ServerName: t.CarrierName, InsecureSkipVerify: t.InsecureSkipCarrierVerify,
			MinVersion: tls.VersionTLS12,
		}
		if t.CarrierCA != "" {
			pool, err := c.certPool("carrier_ca", t.CarrierCA)
			if err != nil {
				return err
			}
			t.Carrier.RootCAs = pool
		}
	}
	return nil
}

// keyPair reads sip.tls.cert and sip.tls.key; a problem is named at the
// key whose file has it.
func (c *Config) keyPair() (tls.Certificate, *fieldError) {
	t := c.SIP.TLS
	certPEM, err := os.ReadFile(c.Path(t.Cert))
	if err != nil {
		return tls.Certificate{}, at("$.sip.tls.cert", "sip.tls.cert: %v", err)
	}
	if len(certificates(certPEM)) == 0 {
		return tls.Certificate{}, at("$.sip.tls.cert", "sip.tls.cert: %s holds no PEM certificate", c.Path(t.Cert))
	}
	keyPEM, err := os.ReadFile(c.Path(t.Key))
	if err != nil {
		return tls.Certificate{}, at("$.sip.tls.key", "sip.tls.key: %v", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, at("$.sip.tls.key", "sip.tls.key: %s is not the private key of %s: %v", c.Path(t.Key), c.Path(t.Cert), err)
	}
	return pair, nil
}

// certPool reads a PEM file of CA certificates for sip.tls.<key>.
func (c *Config) certPool(key, file string) (*x509.CertPool, *fieldError) {
	data, err := os.ReadFile(c.Path(file))
	if err != nil {
		return nil, at("$.sip.tls."+key, "sip.tls.%s: %v", key, err)
	}
	certs := certificates(data)
	if len(certs) == 0 {
		return nil, at("$.sip.tls."+key, "sip.tls.%s: %s holds no PEM certificate", key, c.Path(file))
	}
	pool := x509.NewCertPool()
	for _, cert := range certs {
		pool.AddCert(cert)
	}
	return pool, nil
}

// certificates are the certificates PEM data holds that parse; x509's
// AppendCertsFromPEM would not say when none does.
func certificates(data []byte) []*x509.Certificate {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return certs
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
			certs = append(certs, cert)
		}
	}
}
