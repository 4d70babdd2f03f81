package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// Web is what the admin HTTP listener (admin.http) serves: the auditors'
// page over the decision log and the registry, the metrics, and profiles.
type Web struct {
	// AuditDir is the decision log's folder, read and never written.
	AuditDir string
	// Verifier checks the signature of the checkpoint an evidence bundle
	// leads to; nil when no checkpoint was signed yet.
	Verifier note.Verifier
	// Lists are the registry's lists, for their versions and ages.
	Lists func() ([]registry.ListInfo, error)
	// Region decides numbers typed into the search without a country code
	// (ISO 3166 code, e.g. US).
	Region string
	// Metrics answers /metrics (Prometheus' text format).
	Metrics http.Handler
	// Token, when set, must come with every request: Authorization: Bearer
	// TOKEN, or Basic with TOKEN as the password, which a browser asks for.
	Token string
	// Now is the clock lists' ages are measured by.
	Now func() time.Time
	// Unready names what keeps the gatekeeper from taking calls now, none
	// when it takes them; /readyz answers it.
	Unready func() []string
}

// webRoutes are the listener's endpoints, one handler each (page.go).
func (wb *Web) webRoutes() []route {
	return []route{
		{"GET /{$}", wb.searchPage},
		{"GET /call", wb.callPage},
		{"GET /evidence", wb.evidence},
		{"GET /audit.csv", wb.exportCSV},
		{"GET /healthz", wb.healthz},
		{"GET /readyz", wb.readyz},
	}
}

// Handler serves the page, its embedded assets, /metrics and /debug/pprof/,
// behind the token when one is set. Page errors go back as plain text with
// the status an *apiError carries.
func (wb *Web) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range wb.webRoutes() {
		mux.Handle(rt.pattern, pageSecurity(textErrors(rt.handle)))
	}
	mux.Handle("GET /assets/", pageSecurity(http.FileServerFS(webFiles)))
	mux.Handle("GET /metrics", wb.Metrics)
	// Profiles, for measuring the proxy under load.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	if wb.Token == "" {
		return mux
	}
	return requireToken(wb.Token, mux)
}

// healthz answers 200 while the process serves HTTP at all (liveness).
func (wb *Web) healthz(w http.ResponseWriter, _ *http.Request) error {
	fmt.Fprintln(w, "ok")
	return nil
}

// readyz answers 200 while the gatekeeper takes calls, else 503 with one
// line per reason (Unready), which a load balancer or an orchestrator
// probes before it sends calls.
func (wb *Web) readyz(w http.ResponseWriter, _ *http.Request) error {
	if why := wb.Unready(); len(why) > 0 {
		return withStatus(http.StatusServiceUnavailable, errors.New("not ready: "+strings.Join(why, "; ")))
	}
	fmt.Fprintln(w, "ready")
	return nil
}

// textErrors answers a handler's error as plain text: the page's links are
// followed by people, not by the CLI's client.
func textErrors(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			http.Error(w, err.Error(), statusOf(err))
		}
	})
}

// contentSecurity lets the page load only its own scripts, styles and
// images: record fields are written by whoever sends an INVITE, and if one
// ever slipped past the templates' escaping it could still run nothing.
const contentSecurity = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func pageSecurity(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", contentSecurity)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// requireToken answers 401 to a request without the token. The token is
// compared by its SHA-256 in constant time, so neither its length nor its
// content leaks through the time an answer takes.
func requireToken(token string, h http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := "", false
		if auth := r.Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
			got, ok = strings.TrimSpace(auth[7:]), true
		} else {
			_, got, ok = r.BasicAuth()
		}
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Add("WWW-Authenticate", `Bearer realm="gatekeeper"`)
			w.Header().Add("WWW-Authenticate", `Basic realm="gatekeeper: any user name, the token as password", charset="UTF-8"`)
			http.Error(w, "this endpoint needs the token of admin.token or admin.token_file: Authorization: Bearer TOKEN", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ServeWeb answers h on l until ctx ends, then lets requests in flight
// finish for a few seconds.
func ServeWeb(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger) error {
	log.Info("admin http", "listen", l.Addr().String(), "page", fmt.Sprintf("http://%s/", l.Addr()))
	return serveOn(ctx, l, &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second})
}
