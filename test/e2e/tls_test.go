package e2e

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// useTLS adds a tls:// listener and sip.tls settings (lines of YAML under
// "  tls:") to the gatekeeper's config.
func (g *gatekeeper) useTLS(settings string) {
	g.t.Helper()
	g.withTLS = true
	g.sipExtra += "  tls:\n" + settings
	g.writeConfig()
}

// authority is a test CA; its certificate is in dir/NAME.pem.
type authority struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string
}

func newAuthority(t *testing.T, dir, name string) *authority {
	t.Helper()
	a := &authority{t: t, dir: dir, file: filepath.Join(dir, name+".pem")}
	a.cert, a.key = a.sign(&x509.Certificate{
		Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, a.file, "")
	return a
}

// issue makes a certificate for these IP addresses, for servers and clients,
// written to dir/NAME.pem and dir/NAME.key.
func (a *authority) issue(name string, ips ...string) (certFile, keyFile string, pair tls.Certificate) {
	a.t.Helper()
	tmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: name}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	certFile, keyFile = filepath.Join(a.dir, name+".pem"), filepath.Join(a.dir, name+".key")
	a.sign(tmpl, certFile, keyFile)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		a.t.Fatal(err)
	}
	return certFile, keyFile, pair
}

// sign completes tmpl with a new key and a validity around now, signs it
// (by itself when a has no certificate yet) and writes it as PEM.
func (a *authority) sign(tmpl *x509.Certificate, certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t := a.t
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber, _ = rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	parent, signer := tmpl, key
	if a.cert != nil {
		parent, signer = a.cert, a.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	if keyFile != "" {
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func (a *authority) pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(a.cert)
	return pool
}

// sipConn is a SIP peer on one stream connection: messages are framed by
// their Content-Length (RFC 3261 §18.3).
type sipConn struct {
	net.Conn
	r *bufio.Reader
}

func newSIPConn(c net.Conn) *sipConn { return &sipConn{c, bufio.NewReader(c)} }

// dialTLS opens a TLS connection from ip to addr as a dialer would.
func dialTLS(ip, addr string, conf *tls.Config) (*sipConn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 3 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, conf)
	if err != nil {
		return nil, err
	}
	return newSIPConn(c), nil
}

// send writes a message written with \n line ends; LOCAL becomes our address.
func (c *sipConn) send(t *testing.T, msg string) {
	t.Helper()
	msg = strings.ReplaceAll(msg, "LOCAL", c.LocalAddr().String())
	msg = strings.ReplaceAll(strings.TrimLeft(msg, "\n"), "\n", "\r\n")
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
}

// read returns the next message, within 10 seconds.
func (c *sipConn) read() (string, error) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var head strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return head.String(), err
		}
		if line == "\r\n" && head.Len() == 0 {
			continue // a keepalive
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	n, _ := strconv.Atoi(header(head.String(), "Content-Length"))
	body := make([]byte, n)
	_, err := io.ReadFull(c.r, body)
	return head.String() + string(body), err
}

// final reads until a final answer and returns it.
func (c *sipConn) final(t *testing.T) string {
	t.Helper()
	for {
		msg, err := c.read()
		if err != nil {
			t.Fatalf("no final answer: %v (read %q)", err, msg)
		}
		if !strings.HasPrefix(msg, "SIP/2.0 1") {
			return msg
		}
	}
}

// header is the value of a message's first header name.
func header(msg, name string) string {
	if v := headers(msg, name); len(v) > 0 {
		return v[0]
	}
	return ""
}

func headers(msg, name string) []string {
	var out []string
	for _, line := range strings.Split(msg, "\r\n")[1:] {
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// tlsCarrier is a carrier on TLS that answers every INVITE 200 and every
// BYE 200, and hands each request it gets to got.
type tlsCarrier struct {
	addr  string
	got   chan string
	close func() error // stops listening
}

func startTLSCarrier(t *testing.T, addr string, pair tls.Certificate) *tlsCarrier {
	t.Helper()
	l, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	c := &tlsCarrier{addr: addr, got: make(chan string, 16), close: l.Close}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go c.serve(newSIPConn(conn)) // ends when the gatekeeper closes the connection

		}
	}()
	return c
}

func (c *tlsCarrier) serve(conn *sipConn) {
	for {
		msg, err := conn.read()
		if err != nil {
			return
		}
		c.got <- msg
		var res string
		switch {
		case strings.HasPrefix(msg, "INVITE "):
			res = answer(msg, "200 OK", fmt.Sprintf("Contact: <sip:%s;transport=tls>", c.addr))
		case strings.HasPrefix(msg, "BYE "):
			res = answer(msg, "200 OK")
		default:
			continue
		}
		if _, err := io.WriteString(conn, res); err != nil {
			return
		}
	}
}

// answer is a response to req that echoes its Via, From, To (with a tag),
// Call-ID, CSeq and Record-Route.
func answer(req, status string, extra ...string) string {
	lines := []string{"SIP/2.0 " + status}
	for _, line := range strings.Split(req, "\r\n")[1:] {
		if line == "" {
			break
		}
		name, _, _ := strings.Cut(line, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "to":
			if !strings.Contains(line, "tag=") {
				line += ";tag=carrier1"
			}
			fallthrough
		case "via", "v", "from", "call-id", "cseq", "record-route":
			lines = append(lines, line)
		}
	}
	lines = append(lines, extra...)
	return strings.Join(append(lines, "Content-Length: 0", "", ""), "\r\n")
}

// invite is a dialer's INVITE over TLS; LOCAL is the dialer's address.
func invite(callID string, port int) string { return inviteURI(callID, "sip", port) }

// inviteURI is invite with a Request-URI of this scheme.
func inviteURI(callID, scheme string, port int) string {
	return fmt.Sprintf(`
INVITE %[6]s:%[1]s@%[2]s:%[3]d SIP/2.0
Via: SIP/2.0/TLS LOCAL;branch=z9hG4bK-%[4]s-1;rport
Max-Forwards: 70
From: <sip:dialer@%[5]s>;tag=dialer1
To: <sip:%[1]s@%[2]s>
Call-ID: %[4]s
CSeq: 1 INVITE
Contact: <sip:dialer@LOCAL;transport=tls>
Content-Length: 0

`, cleanNumber, carrierIP, port, callID, dialerIP, scheme)
}

// inDialog is an ACK or BYE of the dialer for the call a 200 answered,
// sent to the carrier's Contact through the route set (RFC 3261 §12.2.1.1).
func inDialog(method string, seq int, ok string) string {
	target := strings.Trim(header(ok, "Contact"), "<>")
	route := ""
	for _, rrs := range headers(ok, "Record-Route") {
		for _, rr := range strings.Split(rrs, ", <") {
			route = "Route: <" + strings.TrimPrefix(rr, "<") + "\n" + route // reversed: the dialer is the caller
		}
	}
	return fmt.Sprintf(`
%[1]s %[2]s SIP/2.0
Via: SIP/2.0/TLS LOCAL;branch=z9hG4bK-%[3]s-%[1]s;rport
Max-Forwards: 70
%[5]sFrom: %[6]s
To: %[7]s
Call-ID: %[3]s
CSeq: %[4]d %[1]s
Content-Length: 0

`, method, target, header(ok, "Call-ID"), seq, route, header(ok, "From"), header(ok, "To"))
}

// expect waits for the carrier to get a request of this method.
func (c *tlsCarrier) expect(t *testing.T, method string) string {
	t.Helper()
	select {
	case msg := <-c.got:
		if !strings.HasPrefix(msg, method+" ") {
			t.Fatalf("the carrier got %q, want a %s", msg, method)
		}
		return msg
	case <-time.After(5 * time.Second):
		t.Fatalf("the carrier got no %s", method)
		return ""
	}
}

// A TLS dialer calls through the gatekeeper to a TLS carrier whose
// certificate it verifies; the dialer must present a client certificate
// signed by client_ca and call from its sources. A plaintext connection to
// the TLS port, and one without a client certificate, are closed in the
// handshake, counted, and the gatekeeper serves on.
func TestTLSCallEndToEnd(t *testing.T) {
	g := newGatekeeper(t)
	ca := newAuthority(t, g.dir, "ca")
	proxyCert, proxyKey, _ := ca.issue("proxy", carrierIP)
	_, _, carrierPair := ca.issue("carrier", carrierIP)
	dialers := newAuthority(t, g.dir, "dialers")
	_, _, dialerPair := dialers.issue("dialer", dialerIP)
	g.sipExtra = "  carrier_transport: tls\n"
	g.useTLS(fmt.Sprintf("    cert: %s\n    key: %s\n    client_ca: %s\n    carrier_ca: %s\n", proxyCert, proxyKey, dialers.file, ca.file))
	carrier := startTLSCarrier(t, net.JoinHostPort(carrierIP, fmt.Sprint(g.carrierPort)), carrierPair)
	g.start()
	proxy := net.JoinHostPort(carrierIP, fmt.Sprint(g.tlsPort))
	withCert := &tls.Config{RootCAs: ca.pool(), Certificates: []tls.Certificate{dialerPair}}

	// Plaintext SIP to the TLS port: no SIP answer, the connection closes.
	plain, err := net.DialTimeout("tcp", proxy, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pc := newSIPConn(plain)
	pc.send(t, invite("tls-plain", g.tlsPort))
	if msg, err := pc.read(); err == nil || strings.Contains(msg, "SIP/2.0") || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("plaintext on the TLS port read %q, %v; want the connection closed without a SIP answer", msg, err)
	}
	plain.Close()

	// No client certificate: refused in the handshake.
	if c, err := dialTLS(dialerIP, proxy, &tls.Config{RootCAs: ca.pool()}); err == nil {
		c.send(t, invite("tls-nocert", g.tlsPort))
		if msg, err := c.read(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("a dialer without a client certificate read %q, %v; want the handshake refused", msg, err)
		}
		c.Close()
	}

	// A good certificate from a source that is no dialer's: 403.
	stranger, err := dialTLS(strangerIP, proxy, &tls.Config{RootCAs: ca.pool(), Certificates: []tls.Certificate{dialerPair}})
	if err != nil {
		t.Fatal(err)
	}
	stranger.send(t, invite("tls-stranger", g.tlsPort))
	if res := stranger.final(t); !strings.HasPrefix(res, "SIP/2.0 403 ") {
		t.Errorf("a stranger with a good certificate got %q, want 403", res)
	}
	stranger.Close()

	// The call: INVITE -> 200 -> ACK -> BYE -> 200, all over TLS on both
	// sides, to a sips: Request-URI, which the Record-Route keeps (RFC 5630).
	dialer, err := dialTLS(dialerIP, proxy, withCert)
	if err != nil {
		t.Fatalf("TLS with a client certificate: %v\n%s", err, g.log.String())
	}
	defer dialer.Close()
	dialer.send(t, inviteURI("tls-call", "sips", g.tlsPort))
	inv := carrier.expect(t, "INVITE")
	ok := dialer.final(t)
	if !strings.HasPrefix(ok, "SIP/2.0 200 ") {
		t.Fatalf("the call got %q, want 200\n%s", ok, g.log.String())
	}
	wantRR := fmt.Sprintf("<sips:%s:%d;transport=tls;lr>", carrierIP, g.tlsPort)
	for side, msg := range map[string]string{"carrier's INVITE": inv, "dialer's 200": ok} {
		if rr := headers(msg, "Record-Route"); len(rr) != 1 || withoutSeal(rr[0]) != wantRR {
			t.Errorf("the %s has Record-Route %q, want [%s]", side, rr, wantRR)
		}
	}
	if via := header(inv, "Via"); !strings.HasPrefix(via, fmt.Sprintf("SIP/2.0/TLS %s:%d;", carrierIP, g.tlsPort)) {
		t.Errorf("the carrier's INVITE has top Via %q, want ours over TLS", via)
	}
	dialer.send(t, inDialog("ACK", 1, ok))
	carrier.expect(t, "ACK")
	dialer.send(t, inDialog("BYE", 2, ok))
	carrier.expect(t, "BYE")
	if res := dialer.final(t); !strings.HasPrefix(res, "SIP/2.0 200 ") {
		t.Errorf("the BYE got %q, want 200", res)
	}

	if m := g.adminGet("/metrics"); !strings.Contains(m, `gatekeeper_sip_refused_total{reason="tls_handshake"} 2`+"\n") {
		t.Errorf("metrics do not count the 2 failed handshakes:\n%s", m)
	}
	g.stop() // the decision log is flushed
	var allowed int
	for _, r := range g.auditRecords() {
		if r["call_id"] == "tls-call" && r["decision"] == "allow" && r["status"] == 200.0 {
			allowed++
		}
	}
	if allowed != 1 {
		t.Errorf("the decision log holds %d allowed tls-call answered 200, want 1: %v", allowed, g.auditRecords())
	}
	if strings.Contains(g.log.String(), "level=ERROR") {
		t.Errorf("the failed handshakes were logged as errors:\n%s", g.log.String())
	}
}

// answeredOverTLS starts a gatekeeper with a tls:// listener that asks for
// no client certificate and a SIPp carrier over UDP that plays scenario,
// and places a call from a TLS dialer. It returns them with the call's 200,
// which the dialer has acknowledged.
func answeredOverTLS(t *testing.T, scenario, callID string) (*gatekeeper, *sipp, *sipConn, string) {
	t.Helper()
	g := newGatekeeper(t)
	ca := newAuthority(t, g.dir, "ca")
	proxyCert, proxyKey, _ := ca.issue("proxy", carrierIP)
	g.useTLS(fmt.Sprintf("    cert: %s\n    key: %s\n", proxyCert, proxyKey))
	g.start()
	carrier := g.carrier(scenario, 1)
	dialer, err := dialTLS(dialerIP, net.JoinHostPort(carrierIP, fmt.Sprint(g.tlsPort)), &tls.Config{RootCAs: ca.pool()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialer.Close() })
	dialer.send(t, invite(callID, g.tlsPort))
	ok := dialer.final(t)
	if !strings.HasPrefix(ok, "SIP/2.0 200 ") {
		t.Fatalf("the call got %q, want 200\n%s", ok, g.log.String())
	}
	dialer.send(t, inDialog("ACK", 1, ok))
	return g, carrier, dialer, ok
}

// A TLS dialer and a UDP carrier (SIPp): each side gets its own
// Record-Route entry, and ACK and BYE cross from TLS to UDP. A SIPS
// Request-URI, which would leave TLS at the proxy, gets 416.
func TestTLSDialerToUDPCarrier(t *testing.T) {
	g, carrier, dialer, ok := answeredOverTLS(t, "uas.xml", "tls-udp")
	// The call lasts a moment, as uac.xml's does: the proxy relays each
	// request as it comes, so a BYE right behind the ACK could overtake it.
	time.Sleep(100 * time.Millisecond)
	dialer.send(t, inDialog("BYE", 2, ok))
	if res := dialer.final(t); !strings.HasPrefix(res, "SIP/2.0 200 ") {
		t.Errorf("the BYE got %q, want 200", res)
	}
	carrier.mustPass()
	// A SIPS Request-URI is not carried to a carrier reached over UDP.
	dialer.send(t, inviteURI("tls-sips-to-udp", "sips", g.tlsPort))
	if res := dialer.final(t); !strings.HasPrefix(res, "SIP/2.0 416 ") {
		t.Errorf("a sips: INVITE toward a UDP carrier got %q, want 416", res)
	}
	if got := carrier.received(); len(got) != 3 {
		t.Errorf("the carrier received %q, want the call's INVITE, ACK and BYE only", got)
	}
	want := []string{
		fmt.Sprintf("<sip:%s:%d;transport=udp;lr>", carrierIP, g.port),
		fmt.Sprintf("<sip:%s:%d;transport=tls;lr>", carrierIP, g.tlsPort),
	}
	if got := recordRoutes(carrier.messages()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the carrier's Record-Route is %q, want %q", got, want)
	}
}

// A TLS carrier whose certificate carrier_ca did not sign gets no call, and
// neither does one that accepts the connection but never completes the
// handshake: the dialer gets 503, at once or after the connect timeout (5 s).
// A SIPS Request-URI from a dialer over UDP gets 416.
func TestTLSCarrierMustBeTrusted(t *testing.T) {
	g := newGatekeeper(t)
	ca := newAuthority(t, g.dir, "ca")
	proxyCert, proxyKey, _ := ca.issue("proxy", carrierIP)
	other := newAuthority(t, g.dir, "other")
	_, _, impostor := other.issue("impostor", carrierIP)
	g.sipExtra = "  carrier_transport: tls\n"
	g.useTLS(fmt.Sprintf("    cert: %s\n    key: %s\n    carrier_ca: %s\n", proxyCert, proxyKey, ca.file))
	carrierAddr := net.JoinHostPort(carrierIP, fmt.Sprint(g.carrierPort))
	g.start()
	// A SIPS Request-URI that came over UDP is not carried on, even to a TLS carrier.
	sipsOverUDP := "INVITE sips:2025550143@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP LOCAL;branch=z9hG4bKsips\nMax-Forwards: 70\nFrom: <sip:2025550100@127.0.0.2>;tag=1\nTo: <sips:2025550143@127.0.0.1>\nCall-ID: sips-udp\nCSeq: 1 INVITE\nContent-Length: 0\n\n"
	if res := g.sendRaw(dialerIP, sipsOverUDP); !strings.HasPrefix(res, "SIP/2.0 416 ") {
		t.Errorf("a sips: INVITE over UDP got %q, want 416", firstLine(res))
	}
	call := func(callID string) (string, time.Duration) {
		t.Helper()
		dialer, err := dialTLS(dialerIP, net.JoinHostPort(carrierIP, fmt.Sprint(g.tlsPort)), &tls.Config{RootCAs: ca.pool()})
		if err != nil {
			t.Fatal(err)
		}
		defer dialer.Close()
		start := time.Now()
		dialer.send(t, invite(callID, g.tlsPort))
		return dialer.final(t), time.Since(start)
	}

	carrier := startTLSCarrier(t, carrierAddr, impostor)
	if res, took := call("tls-impostor"); !strings.HasPrefix(res, "SIP/2.0 503 ") || took > 3*time.Second {
		t.Errorf("a call to a carrier with an untrusted certificate got %q after %s, want 503 at once", res, took)
	}
	select {
	case msg := <-carrier.got:
		t.Errorf("the untrusted carrier got %q", msg)
	default:
	}
	carrier.close()

	// A carrier that takes the TCP connection and says nothing.
	l, err := net.Listen("tcp", carrierAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			// Held open and unread; the gatekeeper closes it when it gives up.
			if _, err := l.Accept(); err != nil {
				return
			}
		}
	}()
	if res, took := call("tls-silent"); !strings.HasPrefix(res, "SIP/2.0 503 ") || took < 4*time.Second || took > 8*time.Second {
		t.Errorf("a call to a carrier that never completes the handshake got %q after %s, want 503 after about 5 s", res, took)
	}
}

// The carrier (SIPp over UDP) hangs up: its BYE reaches the dialer over
// the dialer's own TLS connection, and the dialer's 200 goes back to it.
func TestTLSDialerHungUpByTheCarrier(t *testing.T) {
	g, carrier, dialer, _ := answeredOverTLS(t, "uas_bye.xml", "tls-carrier-bye")
	bye, err := dialer.read()
	if err != nil || !strings.HasPrefix(bye, "BYE ") {
		t.Fatalf("the dialer got %q, %v, want the carrier's BYE\n%s", bye, err, g.log.String())
	}
	if via := header(bye, "Via"); !strings.HasPrefix(via, fmt.Sprintf("SIP/2.0/TLS %s:%d;", carrierIP, g.tlsPort)) {
		t.Errorf("the BYE's top Via is %q, want ours over TLS", via)
	}
	io.WriteString(dialer, answer(bye, "200 OK"))
	carrier.mustPass()
}
