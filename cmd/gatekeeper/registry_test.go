package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/admin"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

func runCmd(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return out.String(), err
}

// The registry commands work on the store directly, through a running
// server's admin socket, and say clearly when neither is possible.
func TestRegistryCommandsWithAndWithoutServer(t *testing.T) {
	dir := t.TempDir()
	sockDir, err := os.MkdirTemp("", "gk") // unix socket paths are limited to ~108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	socket := filepath.Join(sockDir, "admin.sock")
	cfgText := "sip:\n  listen: [\"udp://127.0.0.1:5060\"]\n  carrier: \"sip:127.0.0.1:5070\"\n" +
		"dialers:\n  - name: predictive\n    sources: [\"127.0.0.0/8\"]\n" +
		"data_dir: data\npolicy: policy.yaml\nadmin:\n  socket: " + socket + "\n"
	cfg := filepath.Join(dir, "gatekeeper.yaml")
	for name, text := range map[string]string{"gatekeeper.yaml": cfgText, "a.txt": "2025550143\n", "b.txt": "2025550199\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir) // relative file arguments, as a user types them

	// No server: the CLI opens the store itself.
	out, err := runCmd(t, newImportCmd(), "--config", cfg, "--list", "internal", "a.txt")
	if err != nil || !strings.Contains(out, "imported list internal: version 1, 1 numbers") || !strings.Contains(out, filepath.Join(dir, "a.txt")) {
		t.Fatalf("import: %v\n%s", err, out)
	}
	out, err = runCmd(t, newLookupCmd(), "--config", cfg, "--json", "202-555-0143", "2025550199")
	var first, second lookupResult
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &first) != nil || json.Unmarshal([]byte(lines[1]), &second) != nil {
		t.Fatalf("lookup --json: %v\n%s", err, out)
	}
	if first.Number != "+12025550143" || len(first.Lists) != 1 || first.Lists[0] != "internal" || first.Versions["internal"] != 1 {
		t.Errorf("lookup of a listed number: %+v", first)
	}
	if second.Number != "+12025550199" || second.Lists == nil || len(second.Lists) != 0 || !strings.Contains(lines[1], `"lists":[]`) {
		t.Errorf("lookup of an unlisted number: %s", lines[1])
	}

	// A server holds the store: the same commands go through its socket.
	store, err := registry.Open(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- admin.Serve(ctx, socket, admin.NewHandler(store)) }()
	for deadline := time.Now().Add(5 * time.Second); admin.NewClient(socket).Ping(context.Background()) != nil; {
		if time.Now().After(deadline) {
			t.Fatal("admin socket never answered")
		}
		time.Sleep(5 * time.Millisecond)
	}
	out, err = runCmd(t, newImportCmd(), "--config", cfg, "--list", "internal", "b.txt")
	if err != nil || !strings.Contains(out, "version 2, 1 numbers") {
		t.Fatalf("import through the server: %v\n%s", err, out)
	}
	if ok, _ := store.Listed("internal", "+12025550199"); !ok {
		t.Error("the server's store does not see the import made through its socket")
	}
	out, err = runCmd(t, newListsCmd(), "--config", cfg)
	if err != nil || !strings.Contains(out, "internal  2        1") {
		t.Errorf("lists through the server: %v\n%s", err, out)
	}
	out, err = runCmd(t, newLookupCmd(), "--config", cfg, "2025550199")
	if err != nil || strings.TrimSpace(out) != "+12025550199  internal (version 2)" {
		t.Errorf("lookup through the server: %v\n%s", err, out)
	}

	// The store is still held but nobody answers on the socket.
	stop()
	<-served
	_, err = runCmd(t, newListsCmd(), "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), socket) {
		t.Errorf("locked store without a server: %v", err)
	}
}

func TestAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		40 * time.Second:                 "40s",
		2*time.Hour + 5*time.Minute:      "2h5m",
		(3*24+4)*time.Hour + time.Minute: "3d4h",
		-time.Second:                     "0s",
	} {
		if got := age(d); got != want {
			t.Errorf("age(%s) = %s; want %s", d, got, want)
		}
	}
}
