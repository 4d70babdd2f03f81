package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// The endpoints of the lists. Numbers are E.164; errors come back as
// {"error": "..."} with the registry's own text (e.g. FILE:LINE: reason).
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
	Listed  bool   `json:"listed"`
	Version uint64 `json:"version"` // of the list that answered
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

func (a *api) health(w http.ResponseWriter, _ *http.Request) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// importList imports a list from files the server reads. The answer
// streams: progress lines while the import runs (it may take a minute), then
// the result or the import's error. r.Context() ends when the client goes
// away or the server stops: the import is then abandoned and nothing of it
// applied.
func (a *api) importList(w http.ResponseWriter, r *http.Request) error {
	var req registry.ImportRequest
	if err := decodeBody(r, "import request", &req); err != nil {
		return err
	}
	if err := a.declared(req.List, req.Undeclared); err != nil {
		return err
	}
	named := slices.DeleteFunc(append(slices.Clone(req.Files), req.InvalidReport), func(f string) bool { return f == "" })
	if err := absolutePaths(named); err != nil {
		return err
	}
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
	info, err := a.store.Import(r.Context(), req)
	// An import passes hundreds of MB through buffers that the Go runtime
	// would return to the system over minutes; a serving proxy returns
	// them now (one GC, milliseconds with the proxy's small heap).
	debug.FreeOSMemory()
	if err != nil {
		send(importEvent{Error: err.Error()})
		return nil
	}
	by, via := importedBy(r)
	a.onChange(Change{Kind: registry.KindDNC, Import: &info, By: by, Via: via})
	send(importEvent{Result: &info})
	return nil
}

func (a *api) lookup(w http.ResponseWriter, r *http.Request) error {
	number, err := param(r, "number")
	if err != nil {
		return err
	}
	report, err := a.store.Lookup(number)
	return answer(w, report, err)
}

func (a *api) listed(w http.ResponseWriter, r *http.Request) error {
	list, err := param(r, "list")
	if err != nil {
		return err
	}
	number, err := param(r, "number")
	if err != nil {
		return err
	}
	listed, version, err := a.store.Listed(list, number)
	return answer(w, listedAnswer{Listed: listed, Version: version}, err)
}

func (a *api) lists(w http.ResponseWriter, _ *http.Request) error {
	lists, err := a.store.Lists()
	return answer(w, lists, err)
}

func (a *api) listDate(w http.ResponseWriter, r *http.Request) error {
	list, err := param(r, "list")
	if err != nil {
		return err
	}
	version, asOf, found := a.store.ListDate(list)
	return writeJSON(w, listDateAnswer{Version: version, AsOf: asOf, OK: found})
}

func (a *api) version(w http.ResponseWriter, r *http.Request) error {
	raw, err := param(r, "id")
	if err != nil {
		return err
	}
	id, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return withStatus(http.StatusBadRequest, fmt.Errorf("parameter \"id\": %w", err))
	}
	info, err := a.store.Version(id)
	if err != nil {
		return withStatus(http.StatusNotFound, err)
	}
	return writeJSON(w, info)
}

// changeLive adds or removes numbers of a list at once (gatekeeper dnc).
func (a *api) changeLive(w http.ResponseWriter, r *http.Request) error {
	var req registry.LiveRequest
	change := a.liveChanger(r.Context())
	checked := func(req registry.LiveRequest) ([]registry.Change, error) {
		if err := a.declared(req.List, req.Undeclared); err != nil {
			return nil, err
		}
		return change(req)
	}
	return liveChange(w, r, "dnc request", &req, &req.By, &req.Via, checked, func(cs []registry.Change, by, via string) {
		a.onChange(Change{Live: cs, By: by, Via: via})
	})
}

func (a *api) attempts(w http.ResponseWriter, r *http.Request) error {
	name, err := param(r, "name")
	if err != nil {
		return err
	}
	var from, to time.Time
	for p, dst := range map[string]*time.Time{"from": &from, "to": &to} {
		if *dst, err = timeParam(r, p); err != nil {
			return err
		}
	}
	n, err := a.store.Attempts(name, from, to)
	return answer(w, attemptsAnswer{Count: n}, err)
}

func (a *api) recordAttempt(w http.ResponseWriter, r *http.Request) error {
	var req attemptRequest
	if err := decodeBody(r, "attempt", &req); err != nil {
		return err
	}
	if err := a.store.RecordAttempt(req.Name, req.At, req.Keep, req.Most); err != nil {
		return withStatus(http.StatusUnprocessableEntity, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
