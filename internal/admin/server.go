// Package admin is the running server's local control endpoint. Badger lets
// one process at a time open the registry, so while `gatekeeper serve` runs,
// the CLI's import, lookup and lists go through it: JSON over HTTP on a unix
// socket that only the server's user can open (mode 0600). The endpoints
// are a table of routes (routes.go), one handler each that returns an error
// carrying its HTTP status.
//
// The admin HTTP listener (admin.http, web.go) is built the same way: the
// auditors' page over the decision log (page.go, web/), /metrics and
// profiles, behind a bearer token when it is not bound to loopback.
package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// shutdownGrace bounds how long Serve waits for requests in flight once ctx
// ends; imports see the cancellation at once and stop within milliseconds.
const shutdownGrace = 5 * time.Second

// Serve answers on the unix socket at socketPath until ctx ends, then
// removes the socket. A socket file left by a dead server is replaced; a
// live server on it, or a file that is not a socket, is an error. Errors do
// not name the socket: the caller knows it.
func Serve(ctx context.Context, socketPath string, h http.Handler) error {
	if err := removeStaleSocket(socketPath); err != nil {
		return err
	}
	l, err := listenPrivate(socketPath)
	if err != nil {
		return err
	}
	defer os.Remove(socketPath)
	return serveOn(ctx, l, &http.Server{
		Handler:           h,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnContext:       withPeer,
		ReadHeaderTimeout: 10 * time.Second,
	})
}

// serveOn runs srv on l until ctx ends, then shuts it down gracefully.
func serveOn(ctx context.Context, l net.Listener, srv *http.Server) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	grace, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(grace); err != nil {
		srv.Close()
	}
	return nil
}

// listenPrivate binds the socket under a temporary name, restricts it to
// the owner and only then renames it into place, so that no one can connect
// while it still has the umask's permissions.
func listenPrivate(socketPath string) (net.Listener, error) {
	tmp := fmt.Sprintf("%s.%d.tmp", socketPath, os.Getpid())
	os.Remove(tmp)
	l, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, err
	}
	// The listener would unlink its bound name (tmp) on Close; Serve removes the final name itself.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, socketPath); err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, err
	}
	return l, nil
}

func removeStaleSocket(socketPath string) error {
	fi, err := os.Lstat(socketPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return errors.New("the file exists and is not a socket; remove it or set admin.socket")
	}
	if conn, err := net.DialTimeout("unix", socketPath, time.Second); err == nil {
		conn.Close()
		return errors.New("another gatekeeper is serving on it")
	}
	return os.Remove(socketPath)
}
