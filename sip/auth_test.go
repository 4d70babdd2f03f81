package sip

import (
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"
)

func authRig(t *testing.T) *rig {
	return newRigWith(t, allowAll{}, func(c *Config) {
		c.Dialers[0].Auth = &Credentials{Username: "predictive", Password: "s3cret"}
	})
}

// challenged sends an INVITE without credentials and returns the
// challenges of the 407 it gets, in order.
func challenged(t *testing.T, r *rig, callID string) []*digest.Challenge {
	t.Helper()
	send(t, r.dialer, r.proxyAddr(), invite(callID, callID+"a"))
	got := recvCall(r.dialer, callID, time.Second)
	for len(got) == 1 && strings.HasPrefix(got[0], "SIP/2.0 100") {
		got = recvCall(r.dialer, callID, time.Second)
	}
	if len(got) == 0 || !strings.HasPrefix(got[0], "SIP/2.0 407") {
		t.Fatalf("an INVITE without credentials got %q, want 407", firstLines(got))
	}
	var chals []*digest.Challenge
	for _, line := range strings.Split(got[0], "\r\n") {
		if v, ok := strings.CutPrefix(line, "Proxy-Authenticate: "); ok {
			c, err := digest.ParseChallenge(v)
			if err != nil {
				t.Fatal(err)
			}
			chals = append(chals, c)
		}
	}
	return chals
}

// withCredentials is the INVITE again, answering chal as user with password.
func withCredentials(t *testing.T, callID string, chal *digest.Challenge, user, password, uri string) string {
	t.Helper()
	cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: uri, Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	msg := strings.Replace(invite(callID, callID+"b"), "CSeq: 1 INVITE", "CSeq: 2 INVITE", 1)
	return strings.Replace(msg, "Content-Length: 0", "Proxy-Authorization: "+cred.String()+"\nContent-Length: 0", 1)
}

func TestDigestChallengeOffersSHA256ThenMD5(t *testing.T) {
	r := authRig(t)
	chals := challenged(t, r, "auth-offer")
	var algs []string
	for _, c := range chals {
		algs = append(algs, c.Algorithm)
		if c.Realm != authRealm || !c.SupportsQOP("auth") || c.Nonce == "" {
			t.Errorf("challenge %+v: want realm %q, qop auth and a nonce", c, authRealm)
		}
	}
	if strings.Join(algs, ",") != "SHA-256,MD5" {
		t.Errorf("algorithms offered %v, want SHA-256 then MD5 (RFC 8760 §2.4)", algs)
	}
	if fwd := recvFirst(r.carrier, 200*time.Millisecond); len(fwd) > 0 {
		t.Errorf("the carrier got %q before the dialer proved its credentials", firstLines(fwd))
	}
}

func TestRightCredentialsPass(t *testing.T) {
	for i, alg := range []string{"SHA-256", "MD5"} {
		t.Run(alg, func(t *testing.T) {
			r := authRig(t)
			callID := "auth-ok-" + alg
			chal := challenged(t, r, callID)[i]
			send(t, r.dialer, r.proxyAddr(), withCredentials(t, callID, chal, "predictive", "s3cret", "sip:2025550143@127.0.0.1"))
			if fwd := recvFirst(r.carrier, time.Second); len(fwd) == 0 || !strings.Contains(fwd[0], "Call-ID: "+callID) {
				t.Errorf("the carrier got %q, want the authenticated INVITE", firstLines(fwd))
			}
		})
	}
}

func TestWrongCredentialsGet403(t *testing.T) {
	cases := map[string]func(*digest.Challenge) string{
		"password": func(c *digest.Challenge) string {
			return withCredentials(t, "auth-bad", c, "predictive", "guess", "sip:2025550143@127.0.0.1")
		},
		"username": func(c *digest.Challenge) string {
			return withCredentials(t, "auth-bad", c, "other", "s3cret", "sip:2025550143@127.0.0.1")
		},
		// Credentials made for another number do not place this call.
		"uri": func(c *digest.Challenge) string {
			return withCredentials(t, "auth-bad", c, "predictive", "s3cret", "sip:2025550999@127.0.0.1")
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			r := authRig(t)
			send(t, r.dialer, r.proxyAddr(), build(challenged(t, r, "auth-bad")[1]))
			deadline := time.Now().Add(time.Second)
			var final []string
			for time.Now().Before(deadline) && (len(final) == 0 || !strings.Contains(final[0], "CSeq: 2 INVITE") || strings.HasPrefix(final[0], "SIP/2.0 100")) {
				final = recvCall(r.dialer, "auth-bad", time.Until(deadline))
			}
			if len(final) == 0 || !strings.HasPrefix(final[0], "SIP/2.0 403") {
				t.Errorf("wrong %s got %q, want 403", name, firstLines(final))
			}
			if fwd := recvFirst(r.carrier, 200*time.Millisecond); len(fwd) > 0 {
				t.Errorf("the carrier got %q", firstLines(fwd))
			}
			if n := r.p.Stats().Refused[Unauthorized]; n != 1 {
				t.Errorf("unauthorized counted %d, want 1", n)
			}
		})
	}
}

func TestOnlyTheDialersAlgorithmsAreOfferedAndTaken(t *testing.T) {
	r := newRigWith(t, allowAll{}, func(c *Config) {
		c.Dialers[0].Auth = &Credentials{Username: "predictive", Password: "s3cret", Algorithms: []string{"MD5"}}
	})
	chals := challenged(t, r, "auth-md5")
	if len(chals) != 1 || chals[0].Algorithm != "MD5" {
		t.Fatalf("challenges %+v, want MD5 alone", chals)
	}
	sha := *chals[0]
	sha.Algorithm = "SHA-256"
	send(t, r.dialer, r.proxyAddr(), withCredentials(t, "auth-md5", &sha, "predictive", "s3cret", "sip:2025550143@127.0.0.1"))
	if fwd := recvFirst(r.carrier, 500*time.Millisecond); len(fwd) > 0 {
		t.Errorf("SHA-256 credentials passed where only MD5 is offered: %q", firstLines(fwd))
	}
}

// Right credentials on a nonce the proxy did not issue (or issued before a
// restart) get a fresh challenge marked stale, not 403.
func TestRightCredentialsOnAForeignNonceAreChallengedAgain(t *testing.T) {
	r := authRig(t)
	chal := challenged(t, r, "auth-stale")[1]
	chal.Nonce = newNonces().issue(time.Now())
	send(t, r.dialer, r.proxyAddr(), withCredentials(t, "auth-stale", chal, "predictive", "s3cret", "sip:2025550143@127.0.0.1"))
	deadline := time.Now().Add(time.Second)
	var final []string
	for time.Now().Before(deadline) && (len(final) == 0 || !strings.Contains(final[0], "CSeq: 2 INVITE") || strings.HasPrefix(final[0], "SIP/2.0 100")) {
		final = recvCall(r.dialer, "auth-stale", time.Until(deadline))
	}
	if len(final) == 0 || !strings.HasPrefix(final[0], "SIP/2.0 407") || !strings.Contains(final[0], "stale=true") {
		t.Errorf("right credentials on a foreign nonce got %q, want 407 with stale=true", firstLines(final))
	}
	if n := r.p.Stats().Refused[Unauthorized]; n != 0 {
		t.Errorf("unauthorized counted %d, want 0", n)
	}
}

func TestStaleNonceIsChallengedAgain(t *testing.T) {
	n := newNonces()
	now := time.Now()
	nonce := n.issue(now.Add(-nonceLifetime - time.Second))
	if ours, stale := n.check(nonce, now); !ours || !stale {
		t.Errorf("an old nonce of ours: ours %v stale %v, want both", ours, stale)
	}
	if ours, stale := n.check(n.issue(now), now); !ours || stale {
		t.Errorf("a fresh nonce: ours %v stale %v, want ours and fresh", ours, stale)
	}
	if ours, _ := newNonces().check(nonce, now); ours {
		t.Error("another process's nonce passed")
	}
}
