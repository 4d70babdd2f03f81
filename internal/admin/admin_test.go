package admin

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

var _ policy.Registry = (*Client)(nil)

// socketDir is short: unix socket paths are limited to ~108 bytes, and t.TempDir() can exceed that.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startServer serves a fresh registry and returns a client, the socket path
// and a function that stops the server and returns Serve's result.
func startServer(t *testing.T, opts ...Option) (*Client, *registry.Store, string, func() error) {
	t.Helper()
	store, err := registry.Open(registry.DefaultOptions(filepath.Join(t.TempDir(), "data")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	socket := filepath.Join(socketDir(t), "admin.sock")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, socket, NewHandler(store, opts...)) }()
	stop := func() error {
		cancel()
		select {
		case err := <-served:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return after its context ended")
			return nil
		}
	}
	t.Cleanup(func() { cancel() })
	client := NewClient(socket)
	t.Cleanup(func() { client.Close() })
	waitFor(t, client)
	return client, store, socket, stop
}

func waitFor(t *testing.T, c *Client) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Ping(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the admin socket never answered")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestClientDoesWhatTheStoreDoes(t *testing.T) {
	client, store, socket, stop := startServer(t)

	if fi, err := os.Stat(socket); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %v, %v; want a socket with mode 0600", fi.Mode(), err)
	}
	if _, _, ok := client.ListDate("internal"); ok {
		t.Error("ListDate before any import")
	}
	var progress []registry.Progress
	info, err := client.Import(context.Background(), registry.ImportRequest{
		List: "internal", Files: []string{writeFile(t, "a.txt", "2025550143\n+442079460958\n")}, SourceDate: "2026-11-20",
		Progress: func(p registry.Progress) { progress = append(progress, p) },
	})
	if err != nil || info.Name != "internal" || info.Count != 2 || info.Version == 0 {
		t.Fatalf("Import = %+v, %v", info, err)
	}
	if len(progress) == 0 || progress[len(progress)-1].Phase != "write" {
		t.Errorf("progress through the socket: %+v", progress)
	}
	if ok, _, err := client.Listed("internal", "+12025550143"); !ok || err != nil {
		t.Errorf("Listed = %v, %v; want true", ok, err)
	}
	if ok, _, err := store.Listed("internal", "+12025550143"); !ok || err != nil {
		t.Errorf("the server's own store does not see the import: %v, %v", ok, err)
	}
	if ok, _, err := client.Listed("internal", "+12025550144"); ok || err != nil {
		t.Errorf("Listed(absent) = %v, %v", ok, err)
	}
	if v, asOf, ok := client.ListDate("internal"); !ok || v != info.Version || asOf.Format(time.DateOnly) != "2026-11-20" {
		t.Errorf("ListDate = %d, %s, %v", v, asOf, ok)
	}
	report, err := client.Lookup("+442079460958")
	if err != nil || !slices.Equal(report.Listings, []registry.Listing{{List: "internal", Version: info.Version}}) {
		t.Errorf("Lookup = %+v, %v", report, err)
	}
	if report, err := client.Lookup("+12025550100"); err != nil || report.Listings == nil || len(report.Listings) != 0 {
		t.Errorf("Lookup(absent) = %#v, %v; want []", report, err)
	}
	lists, err := client.Lists()
	if err != nil || len(lists) != 1 || lists[0].Version != info.Version || !lists[0].ImportedAt.Equal(info.ImportedAt) || lists[0].Sources[0].SHA256 != info.Sources[0].SHA256 {
		t.Errorf("Lists = %+v, %v; want %+v", lists, err, info)
	}
	if rec, err := client.Version(info.Version); err != nil || rec.Version != info.Version || rec.Sources[0].SHA256 != info.Sources[0].SHA256 {
		t.Errorf("Version(%d) = %+v, %v", info.Version, rec, err)
	}
	if _, err := client.Version(999); err == nil || !strings.Contains(err.Error(), "no import with id 999") {
		t.Errorf("Version(999): %v", err)
	}
	t0 := time.Now()
	if err := client.RecordAttempt("n/+12025550143", t0, time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := client.Attempts("n/+12025550143", t0.Add(-time.Second), t0.Add(time.Second)); n != 1 || err != nil {
		t.Errorf("Attempts = %d, %v", n, err)
	}

	if err := stop(); err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := os.Lstat(socket); !os.IsNotExist(err) {
		t.Errorf("socket left behind after stop: %v", err)
	}
	if err := client.Ping(context.Background()); err == nil {
		t.Error("Ping succeeded after stop")
	}
}

// A live change through the socket applies at once and records who asked
// (as the caller says) and how (as the kernel says).
func TestLiveChangesThroughTheSocket(t *testing.T) {
	client, store, _, _ := startServer(t)
	changes, err := client.ChangeLive(registry.LiveRequest{List: "internal", Numbers: []string{"+12025550143"}, Reason: "asked on the call", By: "alice", Via: "cli"})
	if err != nil || len(changes) != 1 || changes[0].Outcome != "listed" {
		t.Fatalf("ChangeLive = %+v, %v", changes, err)
	}
	if ok, _, _ := store.Listed("internal", "+12025550143"); !ok {
		t.Error("the server's store does not see the live change")
	}
	want := fmt.Sprintf("cli through the admin socket (uid %d, pid %d)", os.Getuid(), os.Getpid())
	if c := changes[0]; c.By != "alice" || c.Via != want || c.Reason != "asked on the call" {
		t.Errorf("recorded %+v; want by alice via %q", c, want)
	}
	// A caller that does not say who it is gets its user's name from the kernel.
	changes, err = client.ChangeLive(registry.LiveRequest{List: "internal", Numbers: []string{"+12025550143"}, Remove: true})
	if err != nil || changes[0].By == "" || changes[0].By == "unknown" || !strings.HasPrefix(changes[0].Via, "through the admin socket (uid ") {
		t.Errorf("anonymous change: %+v, %v", changes, err)
	}
	if _, err := client.ChangeLive(registry.LiveRequest{List: "internal", Numbers: []string{"2025550143"}, By: "a", Via: "cli"}); err == nil || !strings.Contains(err.Error(), "not an E.164 number") {
		t.Errorf("bad number: %v", err)
	}
}

// With DeclaredLists, a live change or an import to a list the policy
// does not declare is refused with its error, and changes nothing, unless
// the request says undeclared.
func TestUndeclaredListsThroughTheSocket(t *testing.T) {
	client, store, _, _ := startServer(t, DeclaredLists(func(list string) error {
		if list != "internal" {
			return fmt.Errorf("list %q is not declared", list)
		}
		return nil
	}))
	file := writeFile(t, "one.txt", "2025550143\n")
	if _, err := client.ChangeLive(registry.LiveRequest{List: "interal", Numbers: []string{"+12025550143"}}); err == nil || err.Error() != `list "interal" is not declared` {
		t.Errorf("a live change to an undeclared list: %v", err)
	}
	if _, err := client.Import(context.Background(), registry.ImportRequest{List: "interal", Files: []string{file}}); err == nil || err.Error() != `list "interal" is not declared` {
		t.Errorf("an import to an undeclared list: %v", err)
	}
	if lists, _ := store.Lists(); len(lists) != 0 {
		t.Errorf("lists after the refusals: %+v", lists)
	}
	if _, err := client.ChangeLive(registry.LiveRequest{List: "interal", Numbers: []string{"+12025550143"}, Undeclared: true}); err != nil {
		t.Errorf("undeclared: %v", err)
	}
	if _, err := client.ChangeLive(registry.LiveRequest{List: "internal", Numbers: []string{"+12025550143"}}); err != nil {
		t.Errorf("a declared list: %v", err)
	}
}

// The consent, RND and exemption records of a number come through the socket
// as the store returns them, with their versions; the policy decides on them.
func TestRecordsThroughTheSocket(t *testing.T) {
	client, store, _, _ := startServer(t)
	ctx := context.Background()
	imported := map[string]registry.ListInfo{}
	for kind, text := range map[string]string{
		registry.KindConsent: "number,seller,kind,granted_at,evidence\n2025550143,acme,written,2026-01-05,form 17\n",
		registry.KindRND:     "number,asked_on,answer,disconnected_on\n2025550143,2025-06-01,yes,2025-09-15\n",
		registry.KindEBR:     "number,seller,kind,date\n2025550143,acme,purchase,2026-02-01\n",
	} {
		info, err := client.ImportDataSet(ctx, registry.DataSetRequest{Kind: kind, Files: []string{writeFile(t, kind+".csv", text)}})
		if err != nil {
			t.Fatalf("import %s: %v", kind, err)
		}
		imported[kind] = info
	}
	if _, err := client.ChangeConsent(registry.ConsentRequest{Revoke: true, Number: "+12025550143", Seller: "acme", By: "alice", Via: "cli"}); err != nil {
		t.Fatal(err)
	}
	const n = "+12025550143"
	records, revocations, version, err := client.Consents(n)
	want, wantRevocations, _, _ := store.Consents(n)
	if err != nil || !reflect.DeepEqual(records, want) || len(revocations) != 1 || !reflect.DeepEqual(revocations, wantRevocations) ||
		version != imported[registry.KindConsent].Version || records[0].Evidence != "form 17" {
		t.Errorf("Consents = %+v %+v v%d, %v; want %+v %+v", records, revocations, version, err, want, wantRevocations)
	}
	answers, version, err := client.RNDAnswers(n)
	wantAnswers, _, _ := store.RNDAnswers(n)
	if err != nil || len(answers) != 1 || !reflect.DeepEqual(answers, wantAnswers) || version != imported[registry.KindRND].Version {
		t.Errorf("RNDAnswers = %+v v%d, %v; want %+v", answers, version, err, wantAnswers)
	}
	exemptions, version, err := client.Exemptions(n)
	wantExemptions, _, _ := store.Exemptions(n)
	if err != nil || len(exemptions) != 1 || !reflect.DeepEqual(exemptions, wantExemptions) || version != imported[registry.KindEBR].Version {
		t.Errorf("Exemptions = %+v v%d, %v; want %+v", exemptions, version, err, wantExemptions)
	}
	if records, revocations, _, err := client.Consents("+12025550100"); err != nil || len(records) != 0 || len(revocations) != 0 {
		t.Errorf("Consents of a number without any: %+v %+v, %v", records, revocations, err)
	}
}

func TestImportErrorsComeBackVerbatim(t *testing.T) {
	client, store, _, _ := startServer(t)
	bad := writeFile(t, "bad.txt", "2025550143\n20255501\n")
	_, want := store.Import(context.Background(), registry.ImportRequest{List: "internal", Files: []string{bad}})
	_, got := client.Import(context.Background(), registry.ImportRequest{List: "internal", Files: []string{bad}})
	if want == nil || got == nil || got.Error() != want.Error() || !strings.HasPrefix(got.Error(), bad+":2: ") {
		t.Fatalf("client error %q; want the store's %q", got, want)
	}
	_, err := client.Import(context.Background(), registry.ImportRequest{List: "internal", Files: []string{"relative.txt"}})
	if err == nil || !strings.Contains(err.Error(), "not an absolute path") {
		t.Errorf("relative path: %v", err)
	}
	if lists, _ := client.Lists(); len(lists) != 0 {
		t.Errorf("a failed import created a list: %+v", lists)
	}
}

func TestServeReplacesAStaleSocketOnly(t *testing.T) {
	dir := socketDir(t)

	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // the file stays, nobody answers: a crashed server's socket
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, stale, http.NotFoundHandler()) }()
	waitForSocket(t, stale)

	// A second server on a live socket must refuse, not steal it.
	if err := Serve(context.Background(), stale, http.NotFoundHandler()); err == nil || !strings.Contains(err.Error(), "another gatekeeper") {
		t.Errorf("second Serve: %v; want a refusal", err)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}

	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("keep me"), 0o600)
	if err := Serve(context.Background(), plain, http.NotFoundHandler()); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Serve over a regular file: %v", err)
	}
	if data, _ := os.ReadFile(plain); string(data) != "keep me" {
		t.Error("Serve clobbered a regular file")
	}
}

func waitForSocket(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.Dial("unix", path)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("socket %s never answered: %v", path, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
