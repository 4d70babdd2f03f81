package audit

import (
	"crypto/rand"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// Notes signed by note's own signer (crypto/ed25519) verify with the
// curve25519-voi verifier LoadVerifier returns, and a flipped bit anywhere in
// the text or the signature fails as it does with note's verifier.
func TestVerifierAgreesWithNote(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "gatekeeper.test/audit")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	std, _ := note.NewVerifier(vkey)
	ours, err := newVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if ours.Name() != std.Name() || ours.KeyHash() != std.KeyHash() {
		t.Fatalf("name %q hash %08x, note says %q %08x", ours.Name(), ours.KeyHash(), std.Name(), std.KeyHash())
	}
	msg := []byte("gatekeeper.test/audit\n1234\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\ntime 2031-05-01T12:00:10Z\n")
	for range 2 {
		sig, err := signer.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		if !ours.Verify(msg, sig) {
			t.Fatalf("a signature of note's signer does not verify: %x", sig)
		}
		for bit := range 8 * (len(msg) + len(sig)) {
			m, s := append([]byte(nil), msg...), append([]byte(nil), sig...)
			if i := bit / 8; i < len(m) {
				m[i] ^= 1 << (bit % 8)
			} else {
				s[i-len(m)] ^= 1 << (bit % 8)
			}
			if ours.Verify(m, s) != std.Verify(m, s) || ours.Verify(m, s) {
				t.Fatalf("bit %d flipped: ours %v, note's %v", bit, ours.Verify(m, s), std.Verify(m, s))
			}
		}
		msg[len(msg)-3]++ // another text for the next round
	}
	signed, _ := note.Sign(&note.Note{Text: string(msg)}, signer)
	if _, err := note.Open(signed, note.VerifierList(ours)); err != nil {
		t.Errorf("note.Open with our verifier: %v", err)
	}
	if ours.Verify(msg, nil) || ours.Verify(msg, make([]byte, 63)) {
		t.Error("a short signature verifies")
	}
	for _, bad := range []string{"", vkey + "x", "a+00000000+AQ==", skey} {
		if _, err := newVerifier(bad); err == nil {
			t.Errorf("newVerifier(%q) accepted it", bad)
		}
	}
}

// The figures verifier.go quotes: one signature check with note's verifier
// (crypto/ed25519) and with ours.
func BenchmarkSignature(b *testing.B) {
	skey, vkey, _ := note.GenerateKey(rand.Reader, "gatekeeper.test/audit")
	signer, _ := note.NewSigner(skey)
	msg := []byte("gatekeeper.test/audit\n1234\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\ntime 2031-05-01T12:00:10Z\n")
	sig, _ := signer.Sign(msg)
	std, _ := note.NewVerifier(vkey)
	ours, _ := newVerifier(vkey)
	for name, v := range map[string]note.Verifier{"crypto-ed25519": std, "curve25519-voi": ours} {
		b.Run(name, func(b *testing.B) {
			start := cpuTime(b)
			for b.Loop() {
				if !v.Verify(msg, sig) {
					b.Fatal("does not verify")
				}
			}
			reportCPU(b, start, b.N, "op")
		})
	}
}
