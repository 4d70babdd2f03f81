// Package admin is the running server's local control endpoint. Badger lets
// one process at a time open the registry, so while `gatekeeper serve` runs,
// the CLI's import, lookup and lists go through it: JSON over HTTP on a unix
// socket that only the server's user can open (mode 0600).
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// The endpoints. Numbers are E.164; errors come back as {"error": "..."} with
// the registry's own text (e.g. FILE:LINE: reason).
const (
	pathHealth = "/v1/health" // GET: 204 when the server answers
	pathImport = "/v1/import" // POST registry.ImportRequest -> registry.ListInfo
	pathLookup = "/v1/lookup" // GET ?number= -> []registry.Listing
	pathListed = "/v1/listed" // GET ?list=&number= -> listedAnswer
	pathLists  = "/v1/lists"  // GET -> []registry.ListInfo
)

type listedAnswer struct {
	Listed bool `json:"listed"`
}

type errorAnswer struct {
	Error string `json:"error"`
}

// NewHandler serves the registry's operations.
func NewHandler(store *registry.Store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathHealth, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+pathImport, func(w http.ResponseWriter, r *http.Request) {
		var req registry.ImportRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("import request: %w", err))
			return
		}
		for _, f := range req.Files {
			if !filepath.IsAbs(f) {
				writeError(w, http.StatusBadRequest, fmt.Errorf("import: %q is not an absolute path: the server cannot know the client's working directory", f))
				return
			}
		}
		// r.Context() ends when the client goes away or the server stops:
		// the import is then abandoned and nothing of it applied.
		info, err := store.Import(r.Context(), req)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, err)
			return
		}
		writeJSON(w, info)
	})
	mux.HandleFunc("GET "+pathLookup, func(w http.ResponseWriter, r *http.Request) {
		number, ok := param(w, r, "number")
		if !ok {
			return
		}
		listings, err := store.Lookup(number)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, listings)
	})
	mux.HandleFunc("GET "+pathListed, func(w http.ResponseWriter, r *http.Request) {
		list, ok := param(w, r, "list")
		if !ok {
			return
		}
		number, ok := param(w, r, "number")
		if !ok {
			return
		}
		listed, err := store.Listed(list, number)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, listedAnswer{Listed: listed})
	})
	mux.HandleFunc("GET "+pathLists, func(w http.ResponseWriter, _ *http.Request) {
		lists, err := store.Lists()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, lists)
	})
	return mux
}

func param(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		writeError(w, http.StatusBadRequest, fmt.Errorf("parameter %q is missing", name))
	}
	return v, v != ""
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(errorAnswer{Error: err.Error()})
}

// shutdownGrace bounds how long Serve waits for requests in flight once ctx
// ends; imports see the cancellation at once and stop within milliseconds.
const shutdownGrace = 5 * time.Second

// Serve answers on the unix socket at socketPath until ctx ends, then
// removes the socket. A socket file left by a dead server is replaced; a
// live server on it, or a file that is not a socket, is an error.
func Serve(ctx context.Context, socketPath string, h http.Handler) error {
	if err := removeStaleSocket(socketPath); err != nil {
		return err
	}
	l, err := listenPrivate(socketPath)
	if err != nil {
		return err
	}
	defer os.Remove(socketPath)
	srv := &http.Server{
		Handler:           h,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return fmt.Errorf("admin socket %s: %w", socketPath, err)
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
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	// The listener would unlink its bound name (tmp) on Close; Serve removes the final name itself.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Rename(tmp, socketPath); err != nil {
		l.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return l, nil
}

func removeStaleSocket(socketPath string) error {
	fi, err := os.Lstat(socketPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("admin socket %s: the file exists and is not a socket; remove it or set admin.socket", socketPath)
	}
	if conn, err := net.DialTimeout("unix", socketPath, time.Second); err == nil {
		conn.Close()
		return fmt.Errorf("admin socket %s: another gatekeeper is serving on it", socketPath)
	}
	return os.Remove(socketPath)
}
