package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// checkpointsFileName holds every signed checkpoint the log wrote, one JSON
// object a line ({"size","root","time","checkpoint"}), oldest first.
const checkpointsFileName = "checkpoints.jsonl"

// Checkpoint is a signed statement of the tree: its size (records 1..Size),
// its root hash and when it was signed. Its text is a C2SP tlog-checkpoint:
//
//	<origin>
//	<size>
//	<root, base64>
//	time <RFC 3339, UTC>
//
// signed as a golang.org/x/mod/sumdb/note with the log's Ed25519 key.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	Time   time.Time
	// Note is the signed text, as written and as an operator exports it.
	Note []byte
}

type checkpointLine struct {
	Size       int64     `json:"size"`
	Root       string    `json:"root"`
	Time       time.Time `json:"time"`
	Checkpoint string    `json:"checkpoint"`
}

func checkpointText(origin string, size int64, root tlog.Hash, at time.Time) string {
	return fmt.Sprintf("%s\n%d\n%s\ntime %s\n", origin, size, root, at.UTC().Format(time.RFC3339))
}

// signCheckpoint signs the tree of size records and root hash.
func signCheckpoint(signer note.Signer, size int64, root tlog.Hash, at time.Time) (Checkpoint, error) {
	msg, err := note.Sign(&note.Note{Text: checkpointText(signer.Name(), size, root, at)}, signer)
	if err != nil {
		return Checkpoint{}, err
	}
	return Checkpoint{Origin: signer.Name(), Size: size, Root: root, Time: at.UTC().Truncate(time.Second), Note: msg}, nil
}

// OpenCheckpoint checks a signed checkpoint against the log's public key
// (verifier; nil accepts any signature, for reading only) and reads it.
func OpenCheckpoint(msg []byte, verifier note.Verifier) (Checkpoint, error) {
	var known note.Verifiers
	if verifier != nil {
		known = note.VerifierList(verifier)
	} else {
		known = anyVerifier{}
	}
	n, err := note.Open(msg, known)
	if unverified, ok := errors.AsType[*note.UnverifiedNoteError](err); ok && verifier != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint signature: %s: %w", notSignedBy(unverified.Note, verifier), err)
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 5 || !strings.HasPrefix(lines[3], "time ") {
		return Checkpoint{}, errors.New("not a gatekeeper checkpoint (origin, size, root, time)")
	}
	c := Checkpoint{Origin: lines[0], Note: msg}
	if c.Size, err = strconv.ParseInt(lines[1], 10, 64); err != nil || c.Size < 0 {
		return Checkpoint{}, fmt.Errorf("checkpoint size %q", lines[1])
	}
	if c.Root, err = tlog.ParseHash(lines[2]); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint root %q", lines[2])
	}
	if c.Time, err = time.Parse(time.RFC3339, strings.TrimPrefix(lines[3], "time ")); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint time %q", lines[3])
	}
	if c.Origin != n.Sigs[0].Name && verifier != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint of %q signed by %q", c.Origin, n.Sigs[0].Name)
	}
	return c, nil
}

// notSignedBy says who signed a checkpoint that the key given (verifier)
// did not sign, for an auditor who has the wrong public key at hand.
func notSignedBy(n *note.Note, verifier note.Verifier) string {
	var by []string
	for _, sig := range n.UnverifiedSigs {
		if sig.Name == verifier.Name() {
			return fmt.Sprintf("signed by another key named %s than the one given", sig.Name)
		}
		by = append(by, sig.Name)
	}
	return fmt.Sprintf("signed by %s, not by the key given (%s): check it with the public key of the log that signed it",
		strings.Join(by, ", "), verifier.Name())
}

// anyVerifier accepts every signature: for reading checkpoints without a key.
type anyVerifier struct{}

func (anyVerifier) Verifier(name string, hash uint32) (note.Verifier, error) {
	return acceptAll{name, hash}, nil
}

type acceptAll struct {
	name string
	hash uint32
}

func (a acceptAll) Name() string                { return a.name }
func (a acceptAll) KeyHash() uint32             { return a.hash }
func (a acceptAll) Verify(msg, sig []byte) bool { return true }

// appendCheckpoint adds c to dir's checkpoints file and syncs it.
func appendCheckpoint(dir string, c Checkpoint) error {
	line, err := json.Marshal(checkpointLine{Size: c.Size, Root: hexString(c.Root), Time: c.Time, Checkpoint: string(c.Note)})
	if err != nil {
		return err
	}
	return writeSynced(filepath.Join(dir, checkpointsFileName), os.O_APPEND|os.O_CREATE, 0o640, append(line, '\n'))
}

// Checkpoints reads the signed checkpoints of the log in dir, oldest first,
// checking each signature with verifier (nil: unchecked). A line cut short
// by a crash is skipped.
func Checkpoints(dir string, verifier note.Verifier) ([]Checkpoint, error) {
	data, err := os.ReadFile(filepath.Join(dir, checkpointsFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Checkpoint
	for i, line := range bytes.Split(data, []byte{'\n'}) {
		var cl checkpointLine
		if len(line) == 0 || json.Unmarshal(line, &cl) != nil {
			continue
		}
		c, err := OpenCheckpoint([]byte(cl.Checkpoint), verifier)
		if err != nil {
			return out, fmt.Errorf("%s:%d: %w", filepath.Join(dir, checkpointsFileName), i+1, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func hexString(h tlog.Hash) string {
	x := hexHash(h)
	return string(x[:])
}

// LoadSigner reads the log's private key (a note signer key) from path, or
// creates one named origin when the file does not exist, with its public key
// (note verifier key) beside it as path+".pub". Keep the key outside the
// audit folder: whoever holds it can sign checkpoints.
func LoadSigner(path, origin string) (note.Signer, error) {
	skey, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		s, v, err := note.GenerateKey(rand.Reader, origin)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, err
		}
		if err := writeNewFile(path, []byte(s+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("creating the checkpoint key: %w", err)
		}
		if err := os.WriteFile(path+".pub", []byte(v+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("writing the checkpoint public key: %w", err)
		}
		skey = []byte(s)
	} else if err != nil {
		return nil, err
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, fmt.Errorf("%s: not a checkpoint signing key: %w", path, err)
	}
	return signer, nil
}

// LoadVerifier reads a public key written by LoadSigner (path ends in .pub).
func LoadVerifier(path string) (note.Verifier, error) {
	vkey, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := newVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		return nil, fmt.Errorf("%s: not a checkpoint public key: %w", path, err)
	}
	return v, nil
}

// writeNewFile writes data to a file at path that must not exist yet, and syncs it.
func writeNewFile(path string, data []byte, perm os.FileMode) error {
	return writeSynced(path, os.O_CREATE|os.O_EXCL, perm, data)
}

// writeSynced writes data to the file at path, opened write-only with flag
// (os.O_APPEND, os.O_CREATE, ...), and syncs it before closing it, so that
// what it wrote survives a crash once it returns nil.
func writeSynced(path string, flag int, perm os.FileMode, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|flag, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
