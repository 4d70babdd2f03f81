package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// ArchivePolicy keeps a policy file's text in the audit folder dir as
// policies/<sha256>.yaml (PoliciesDir), where evidence bundles and policy
// replay find the policy a decision names by its policy_sha256. A text kept
// already is left as it is. It returns the text's SHA-256, hex.
func ArchivePolicy(dir string, text []byte) (string, error) {
	sum := sha256.Sum256(text)
	sha := hex.EncodeToString(sum[:])
	path := filepath.Join(dir, PoliciesDir, sha+".yaml")
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return sha, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return sha, err
	}
	// Through a new file and a rename: a crash leaves no half text under the hash.
	tmp := path + ".new"
	os.Remove(tmp) // left by a crash
	if err := writeNewFile(tmp, text, 0o640); err != nil {
		return sha, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return sha, errors.Join(err, os.Remove(tmp))
	}
	return sha, syncDir(filepath.Dir(path))
}
