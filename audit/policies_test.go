package audit

import (
	"os"
	"path/filepath"
	"testing"
)

func TestArchivePolicyKeepsEachTextOnceUnderItsHash(t *testing.T) {
	dir := t.TempDir()
	sha, err := ArchivePolicy(dir, []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, PoliciesDir, sha+".yaml")
	if got, err := os.ReadFile(path); err != nil || string(got) != testPolicy {
		t.Fatalf("%s: %q %v", path, got, err)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", info.Mode().Perm())
	}
	if again, err := ArchivePolicy(dir, []byte(testPolicy)); err != nil || again != sha {
		t.Errorf("the same text again: %s %v", again, err)
	}
	other, err := ArchivePolicy(dir, []byte("rules: []\n"))
	if err != nil || other == sha {
		t.Errorf("another text: %s %v", other, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, PoliciesDir))
	if len(entries) != 2 {
		t.Errorf("policies folder holds %d files, want 2 (no temporary file left)", len(entries))
	}
}
