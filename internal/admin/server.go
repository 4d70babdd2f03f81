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
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// The endpoints. Numbers are E.164; errors come back as {"error": "..."} with
// the registry's own text (e.g. FILE:LINE: reason).
const (
	pathHealth   = "/v1/health"   // GET: 204 when the server answers
	pathImport   = "/v1/import"   // POST registry.ImportRequest -> NDJSON: importEvent lines, the last with a result or an error
	pathLookup   = "/v1/lookup"   // GET ?number= -> registry.Report
	pathListed   = "/v1/listed"   // GET ?list=&number= -> listedAnswer
	pathLists    = "/v1/lists"    // GET -> []registry.ListInfo
	pathListDate = "/v1/listdate" // GET ?list= -> listDateAnswer
	pathVersion  = "/v1/version"  // GET ?id= -> registry.ListInfo as recorded by that import
	pathDNC      = "/v1/dnc"      // POST registry.LiveRequest -> []registry.Change
	pathAttempts = "/v1/attempts" // GET ?name=&from=&to= -> attemptsAnswer; POST attemptRequest
)

type listedAnswer struct {
	Listed bool `json:"listed"`
}

type listDateAnswer struct {
	Version uint64    `json:"version"`
	AsOf    time.Time `json:"as_of"`
	OK      bool      `json:"ok"`
}

type attemptsAnswer struct {
	Count int `json:"count"`
}

type attemptRequest struct {
	Name string        `json:"name"`
	At   time.Time     `json:"at"`
	Keep time.Duration `json:"keep"`
	Most int           `json:"most"`
}

// importEvent is one line of an import's answer: progress while it runs,
// then its result or its error.
type importEvent struct {
	Progress *registry.Progress `json:"progress,omitempty"`
	Result   *registry.ListInfo `json:"result,omitempty"`
	Error    string             `json:"error,omitempty"`
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
		for _, f := range append(slices.Clone(req.Files), req.InvalidReport) {
			if f != "" && !filepath.IsAbs(f) {
				writeError(w, http.StatusBadRequest, fmt.Errorf("import: %q is not an absolute path: the server cannot know the client's working directory", f))
				return
			}
		}
		// The answer streams: progress lines while the import runs (it may
		// take a minute), then the result. r.Context() ends when the client
		// goes away or the server stops: the import is then abandoned and
		// nothing of it applied.
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		flusher, _ := w.(http.Flusher)
		send := func(ev importEvent) {
			enc.Encode(ev)
			if flusher != nil {
				flusher.Flush()
			}
		}
		req.Progress = func(p registry.Progress) { send(importEvent{Progress: &p}) }
		info, err := store.Import(r.Context(), req)
		// An import passes hundreds of MB through buffers that the Go runtime
		// would return to the system over minutes; a serving proxy returns
		// them now (one GC, milliseconds with the proxy's small heap).
		debug.FreeOSMemory()
		if err != nil {
			send(importEvent{Error: err.Error()})
			return
		}
		send(importEvent{Result: &info})
	})
	mux.HandleFunc("GET "+pathLookup, func(w http.ResponseWriter, r *http.Request) {
		number, ok := param(w, r, "number")
		if !ok {
			return
		}
		report, err := store.Lookup(number)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, report)
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
	mux.HandleFunc("GET "+pathListDate, func(w http.ResponseWriter, r *http.Request) {
		list, ok := param(w, r, "list")
		if !ok {
			return
		}
		version, asOf, found := store.ListDate(list)
		writeJSON(w, listDateAnswer{Version: version, AsOf: asOf, OK: found})
	})
	mux.HandleFunc("GET "+pathVersion, func(w http.ResponseWriter, r *http.Request) {
		raw, ok := param(w, r, "id")
		if !ok {
			return
		}
		id, err := strconv.ParseUint(raw, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("parameter \"id\": %w", err))
			return
		}
		info, err := store.Version(id)
		if err != nil {
			writeError(w, http.StatusNotFound, err)
			return
		}
		writeJSON(w, info)
	})
	mux.HandleFunc("POST "+pathDNC, func(w http.ResponseWriter, r *http.Request) {
		var req registry.LiveRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("dnc request: %w", err))
			return
		}
		// The socket only admits the server's own user; the kernel's word on
		// the caller goes into the record next to what the caller says.
		peer := peerOf(r.Context())
		if req.By == "" {
			req.By = peer.user()
		}
		req.Via = strings.TrimSpace(req.Via + " through the admin socket (" + peer.String() + ")")
		changes, err := store.ChangeLive(req)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, err)
			return
		}
		writeJSON(w, changes)
	})
	mux.HandleFunc("GET "+pathAttempts, func(w http.ResponseWriter, r *http.Request) {
		name, ok := param(w, r, "name")
		if !ok {
			return
		}
		var from, to time.Time
		for p, dst := range map[string]*time.Time{"from": &from, "to": &to} {
			v, ok := param(w, r, p)
			if !ok {
				return
			}
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, fmt.Errorf("parameter %q: %w", p, err))
				return
			}
			*dst = t
		}
		n, err := store.Attempts(name, from, to)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, attemptsAnswer{Count: n})
	})
	mux.HandleFunc("POST "+pathAttempts, func(w http.ResponseWriter, r *http.Request) {
		var req attemptRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("attempt: %w", err))
			return
		}
		if err := store.RecordAttempt(req.Name, req.At, req.Keep, req.Most); err != nil {
			writeError(w, http.StatusUnprocessableEntity, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	handleDataSets(mux, store) // datasets.go
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
		ConnContext:       withPeer,
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
