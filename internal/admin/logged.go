package admin

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// maxLogged bounds how much of a request and its answer goes into the log.
const maxLogged = 2048

// Logged wraps the admin handler so that the server logs every change made
// through it (imports, live opt-outs, consent changes: the POST requests)
// with what was asked, the answer and how long it took. A change to the
// registry of a running server then shows in that server's log, next to the
// calls it affects.
func Logged(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			h.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body) // the socket admits only the server's own user
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		h.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if rec.status >= 400 {
			level = slog.LevelWarn
		}
		log.Log(r.Context(), level, "admin: change through the socket", "path", r.URL.Path, "status", rec.status,
			"took", time.Since(start).Round(time.Millisecond), "request", clip(body), "answer", clip(lastLine(rec.answer)))
	})
}

// recorder keeps the status and the end of the answer: an import streams
// progress lines, and its last line holds the result.
type recorder struct {
	http.ResponseWriter
	status int
	answer []byte
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.answer = append(r.answer, b...)
	if len(r.answer) > 4*maxLogged {
		r.answer = append(r.answer[:0], r.answer[len(r.answer)-maxLogged:]...)
	}
	return r.ResponseWriter.Write(b)
}

// lastLine is the last line of an answer: the whole of a one-line answer.
func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	return b[bytes.LastIndexByte(b, '\n')+1:]
}

func clip(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > maxLogged {
		return string(b[:maxLogged]) + "..."
	}
	return string(b)
}
