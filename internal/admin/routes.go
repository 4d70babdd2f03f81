package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// route is one endpoint: a net/http ServeMux pattern ("METHOD /path") and the
// handler that answers it.
type route struct {
	pattern string
	handle  handlerFunc
}

// handlerFunc answers one request. An error it returns, before it has written
// anything, goes back as {"error": "..."} with the status an *apiError
// carries, or 500 for any other error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (h handlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h(w, r); err != nil {
		writeError(w, err)
	}
}

// apiError is an error with the HTTP status to answer it with.
type apiError struct {
	status int
	err    error
}

func (e *apiError) Error() string { return e.err.Error() }
func (e *apiError) Unwrap() error { return e.err }

// withStatus gives err the status to answer it with; nil stays nil.
func withStatus(status int, err error) error {
	if err == nil {
		return nil
	}
	return &apiError{status: status, err: err}
}

// api answers the endpoints from the registry the server holds.
type api struct {
	store    *registry.Store
	onChange func(Change)
	shared   Shared // nil: live and consent changes go to store alone
	// checkList refuses a DNC list the policy in force does not declare
	// (nil: any list is taken).
	checkList func(list string) error
}

// Shared takes live opt-outs and consent changes for every gatekeeper of a
// cluster (cluster.Node), and answers once this one's registry applied them.
type Shared interface {
	ChangeLive(context.Context, registry.LiveRequest) ([]registry.Change, error)
	ChangeConsent(context.Context, registry.ConsentRequest) (registry.ConsentChange, error)
}

// ThroughCluster sends live opt-outs and consent changes to s instead of
// the registry alone, so that every node of the cluster applies them.
func ThroughCluster(s Shared) Option {
	return func(a *api) { a.shared = s }
}

// liveChanger applies a live change, through the cluster when there is one.
func (a *api) liveChanger(ctx context.Context) func(registry.LiveRequest) ([]registry.Change, error) {
	if a.shared == nil {
		return a.store.ChangeLive
	}
	return func(req registry.LiveRequest) ([]registry.Change, error) { return a.shared.ChangeLive(ctx, req) }
}

// consentChanger applies a consent change, through the cluster when there is one.
func (a *api) consentChanger(ctx context.Context) func(registry.ConsentRequest) (registry.ConsentChange, error) {
	if a.shared == nil {
		return a.store.ChangeConsent
	}
	return func(req registry.ConsentRequest) (registry.ConsentChange, error) {
		return a.shared.ChangeConsent(ctx, req)
	}
}

// Change is a change made through the socket, once the registry applied it:
// an import (Kind and Import: the version it made), live changes of a list
// (Live) or a consent change (Consent). By and Via say who asked and how;
// live and consent changes also carry them in their own records.
type Change struct {
	Kind    string // registry.KindDNC or a data set's kind; "" for a live or consent change
	Import  *registry.ListInfo
	Live    []registry.Change
	Consent *registry.ConsentChange
	By, Via string
}

// Option tunes NewHandler.
type Option func(*api)

// OnChange has f called with every change made through the socket, after
// the registry applied it and before the caller gets the answer: the
// server's records of changes (its audit log) are the caller's to keep.
func OnChange(f func(Change)) Option {
	return func(a *api) { a.onChange = f }
}

// DeclaredLists has imports and live changes refused, with 422 and check's
// error, for a list check refuses (the policy in force does not declare
// it), unless the request says undeclared.
func DeclaredLists(check func(list string) error) Option {
	return func(a *api) { a.checkList = check }
}

// declared applies checkList to a request's list.
func (a *api) declared(list string, undeclared bool) error {
	if a.checkList == nil || undeclared {
		return nil
	}
	return withStatus(http.StatusUnprocessableEntity, a.checkList(list))
}

// NewHandler serves the registry's operations: the routes below, one handler
// each (lists.go, datasets.go).
func NewHandler(store *registry.Store, opts ...Option) http.Handler {
	a := &api{store: store, onChange: func(Change) {}}
	for _, o := range opts {
		o(a)
	}
	mux := http.NewServeMux()
	for _, rt := range a.routes() {
		mux.Handle(rt.pattern, rt.handle)
	}
	return mux
}

func (a *api) routes() []route {
	return []route{
		{"GET " + pathHealth, a.health},
		{"POST " + pathImport, a.importList},
		{"GET " + pathLookup, a.lookup},
		{"GET " + pathListed, a.listed},
		{"GET " + pathLists, a.lists},
		{"GET " + pathListDate, a.listDate},
		{"GET " + pathVersion, a.version},
		{"POST " + pathDNC, a.changeLive},
		{"GET " + pathAttempts, a.attempts},
		{"POST " + pathAttempts, a.recordAttempt},
		{"POST " + pathDataSetImport, a.importDataSet},
		{"GET " + pathDataSets, a.dataSets},
		{"GET " + pathLineType, a.lineType},
		{"GET " + pathNumberData, a.numberData},
		{"GET " + pathConsent, a.consents},
		{"POST " + pathConsent, a.changeConsent},
		{"GET " + pathRND, a.rndAnswers},
		{"GET " + pathExemption, a.exemptions},
		{"GET " + pathAbandonment, a.abandonment},
		{"GET " + pathAbandonmentPeriods, a.abandonmentPeriods},
	}
}

// param is the query parameter name, which must be given.
func param(r *http.Request, name string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return "", withStatus(http.StatusBadRequest, fmt.Errorf("parameter %q is missing", name))
	}
	return v, nil
}

// timeParam is the query parameter name, an RFC 3339 time, which must be given.
func timeParam(r *http.Request, name string) (time.Time, error) {
	v, err := param(r, name)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, withStatus(http.StatusBadRequest, fmt.Errorf("parameter %q: %w", name, err))
	}
	return t, nil
}

// decodeBody reads the request's JSON body into v; what names it in the error.
func decodeBody(r *http.Request, what string, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return withStatus(http.StatusBadRequest, fmt.Errorf("%s: %w", what, err))
	}
	return nil
}

// absolutePaths refuses a relative path: the server reads the files itself
// and cannot know the client's working directory.
func absolutePaths(files []string) error {
	for _, f := range files {
		if !filepath.IsAbs(f) {
			return withStatus(http.StatusBadRequest, fmt.Errorf("import: %q is not an absolute path: the server cannot know the client's working directory", f))
		}
	}
	return nil
}

// liveChange answers a change the server makes at once (a dnc or a consent
// change): it reads req, records who asked in by and via, and answers what
// apply made of it, 422 when apply refuses it; done hears of it first. The
// socket only admits the server's own user; the kernel's word on the caller
// goes into the record next to what the caller says.
func liveChange[Req, Done any](w http.ResponseWriter, r *http.Request, what string, req *Req, by, via *string, apply func(Req) (Done, error), done func(Done, string, string)) error {
	if err := decodeBody(r, what, req); err != nil {
		return err
	}
	peer := peerOf(r.Context())
	if *by == "" {
		*by = peer.user()
	}
	*via = strings.TrimSpace(*via + " through the admin socket (" + peer.String() + ")")
	change, err := apply(*req)
	if err != nil {
		return withStatus(http.StatusUnprocessableEntity, err)
	}
	done(change, *by, *via)
	return writeJSON(w, change)
}

// importedBy names who asked for an import through the socket, as the
// kernel tells it, and how.
func importedBy(r *http.Request) (by, via string) {
	peer := peerOf(r.Context())
	return peer.user(), "admin socket (" + peer.String() + ")"
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
	return nil
}

// answer writes v, or the error that kept the store from answering (500).
func answer(w http.ResponseWriter, v any, err error) error {
	if err != nil {
		return err
	}
	return writeJSON(w, v)
}

func writeError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(statusOf(err))
	json.NewEncoder(w).Encode(errorAnswer{Error: err.Error()})
}

// statusOf is the status an *apiError carries, else 500.
func statusOf(err error) int {
	if ae, ok := errors.AsType[*apiError](err); ok {
		return ae.status
	}
	return http.StatusInternalServerError
}
