package sip

import (
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Credentials are what a dialer proves with SIP digest authentication
// (RFC 3261 §22; RFC 8760 SHA-256 or MD5), besides sending from its sources.
type Credentials struct {
	Username string
	Password string
	// Algorithms are offered in this order of preference (RFC 8760 §2.4: a
	// client takes the first it supports); nil means SHA-256, then MD5.
	// A dialer that answers only the first challenge, whatever its algorithm
	// (SIPp 3.6 does), needs MD5 alone.
	Algorithms []string
}

// authRealm is the protection space the proxy's challenges name.
const authRealm = "gatekeeper"

// nonceLifetime is how long a challenge's nonce is accepted; an older one is
// challenged again with stale=true, and the dialer retries without asking anyone.
const nonceLifetime = 5 * time.Minute

// DefaultAlgorithms are the digest algorithms offered when a dialer's
// Credentials name none, in order of preference.
var DefaultAlgorithms = []string{"SHA-256", "MD5"}

func (c *Credentials) algorithms() []string {
	if len(c.Algorithms) == 0 {
		return DefaultAlgorithms
	}
	return c.Algorithms
}

// nonces issues and checks nonces without keeping state: a nonce is its
// time of issue and an HMAC of it under a key made at start.
type nonces struct{ key []byte }

func newNonces() nonces {
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand)
	return nonces{key}
}

func (n nonces) issue(now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 16)
	return ts + "." + n.mac(ts)
}

func (n nonces) mac(ts string) string {
	h := hmac.New(sha256.New, n.key)
	h.Write([]byte(ts))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}

// check reports whether nonce is one of ours, and whether it is too old.
func (n nonces) check(nonce string, now time.Time) (ours, stale bool) {
	ts, mac, ok := strings.Cut(nonce, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(n.mac(ts))) {
		return false, false
	}
	issued, err := strconv.ParseInt(ts, 16, 64)
	if err != nil {
		return false, false
	}
	return true, now.Sub(time.Unix(issued, 0)) > nonceLifetime
}

// authorize checks a new INVITE's Proxy-Authorization against the dialer's
// credentials (RFC 3261 §22.3). Without one it answers 407 with a challenge
// per algorithm; with wrong credentials 403, counted as Unauthorized; with
// right ones on a nonce that is too old or not this process's, 407 with
// stale=true. It reports whether the INVITE may go on.
func (p *Proxy) authorize(req *sip.Request, tx sip.ServerTransaction, creds *Credentials) bool {
	h := req.GetHeader("Proxy-Authorization")
	if h == nil {
		p.challenge(req, tx, creds, false)
		return false
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil || cred.Realm != authRealm || !slices.ContainsFunc(creds.algorithms(), func(a string) bool {
		return strings.EqualFold(a, cmp.Or(cred.Algorithm, "MD5")) // no algorithm: MD5 (RFC 3261 §22.4)
	}) {
		p.refuseCredentials(req, tx)
		return false
	}
	want, err := digest.Digest(&digest.Challenge{Realm: authRealm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, QOP: qopOf(cred)},
		digest.Options{Method: string(req.Method), URI: cred.URI, Username: creds.Username, Password: creds.Password, Cnonce: cred.Cnonce, Count: cred.Nc})
	if err != nil || cred.Username != creds.Username || !sameTarget(cred.URI, req.Recipient) ||
		subtle.ConstantTimeCompare([]byte(strings.ToLower(cred.Response)), []byte(want.Response)) != 1 {
		p.refuseCredentials(req, tx)
		return false
	}
	if ours, stale := p.nonces.check(cred.Nonce, time.Now()); !ours || stale {
		// Right credentials, a nonce too old or from before a restart: a
		// fresh challenge, which the dialer answers at once (RFC 7616 §3.3 stale).
		p.challenge(req, tx, creds, true)
		return false
	}
	return true
}

func qopOf(cred *digest.Credentials) []string {
	if cred.QOP == "" {
		return nil // RFC 2069 compatibility: no qop, no cnonce
	}
	return []string{cred.QOP}
}

// sameTarget tells whether the digest-uri names the Request-URI's host and,
// when it names a user, the Request-URI's user too (RFC 7616 §3.4.6), so
// that such credentials captured from one call cannot place a call to
// another number. Some dialers (SIPp 3.6) give only the proxy's host:port.
func sameTarget(uri string, target sip.Uri) bool {
	var u sip.Uri
	if err := sip.ParseUri(uri, &u); err != nil {
		return false
	}
	return (u.User == "" || u.User == target.User) && strings.EqualFold(u.Host, target.Host)
}

// challenge answers 407 with one Proxy-Authenticate per algorithm of the dialer's.
func (p *Proxy) challenge(req *sip.Request, tx sip.ServerTransaction, creds *Credentials, stale bool) {
	nonce := p.nonces.issue(time.Now())
	var hdrs []sip.Header
	for _, alg := range creds.algorithms() {
		c := digest.Challenge{Realm: authRealm, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
		hdrs = append(hdrs, sip.NewHeader("Proxy-Authenticate", c.String()))
	}
	reply(tx, req, 407, "Proxy Authentication Required", hdrs...)
}

// refuseCredentials answers 403 to credentials that are not the dialer's: a
// new challenge would only invite guessing.
func (p *Proxy) refuseCredentials(req *sip.Request, tx sip.ServerTransaction) {
	p.refused.add(Unauthorized, req.Source())
	reply(tx, req, 403, "Forbidden")
}
