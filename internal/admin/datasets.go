package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// The endpoints of the data sets beside the lists: line type, consent, RND
// answers, exemptions. Times are RFC 3339.
const (
	pathDataSetImport = "/v1/datasets/import" // POST registry.DataSetRequest -> registry.ListInfo
	pathDataSets      = "/v1/datasets"        // GET -> []registry.ListInfo
	pathLineType      = "/v1/linetype"        // GET ?number=&rn= -> registry.LineType
	pathConsent       = "/v1/consent"         // GET ?number=&seller=&campaign=&at= -> registry.ConsentAnswer; POST registry.ConsentRequest -> registry.ConsentChange
	pathExemption     = "/v1/exemption"       // GET ?number=&seller=&at=&purchase=M,D&inquiry=M,D -> registry.ExemptionAnswer
	pathNumberData    = "/v1/numberdata"      // GET ?number=&rn= -> registry.NumberData
)

// handleDataSets adds the data set endpoints to the admin handler.
func handleDataSets(mux *http.ServeMux, store *registry.Store) {
	mux.HandleFunc("POST "+pathDataSetImport, func(w http.ResponseWriter, r *http.Request) {
		var req registry.DataSetRequest
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
		info, err := store.ImportDataSet(r.Context(), req)
		debug.FreeOSMemory() // as after a list import: give the import's buffers back now
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, err)
			return
		}
		writeJSON(w, info)
	})
	mux.HandleFunc("GET "+pathDataSets, func(w http.ResponseWriter, _ *http.Request) {
		sets, err := store.DataSets()
		answer(w, sets, err)
	})
	mux.HandleFunc("GET "+pathLineType, func(w http.ResponseWriter, r *http.Request) {
		if number, ok := param(w, r, "number"); ok {
			lt, err := store.LineType(number, r.URL.Query().Get("rn"))
			answer(w, lt, err)
		}
	})
	mux.HandleFunc("GET "+pathNumberData, func(w http.ResponseWriter, r *http.Request) {
		if number, ok := param(w, r, "number"); ok {
			d, err := store.NumberData(number, r.URL.Query().Get("rn"))
			answer(w, d, err)
		}
	})
	mux.HandleFunc("GET "+pathConsent, func(w http.ResponseWriter, r *http.Request) {
		number, at, ok := numberAt(w, r)
		if !ok {
			return
		}
		q := r.URL.Query()
		a, err := store.Consent(number, q.Get("seller"), q.Get("campaign"), at)
		answer(w, a, err)
	})
	mux.HandleFunc("POST "+pathConsent, func(w http.ResponseWriter, r *http.Request) {
		var req registry.ConsentRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("consent request: %w", err))
			return
		}
		peer := peerOf(r.Context())
		if req.By == "" {
			req.By = peer.user()
		}
		req.Via = strings.TrimSpace(req.Via + " through the admin socket (" + peer.String() + ")")
		c, err := store.ChangeConsent(req)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, err)
			return
		}
		writeJSON(w, c)
	})
	mux.HandleFunc("GET "+pathExemption, func(w http.ResponseWriter, r *http.Request) {
		number, at, ok := numberAt(w, r)
		if !ok {
			return
		}
		q := r.URL.Query()
		var p registry.ExemptionPeriods
		for name, dst := range map[string]*registry.Period{"purchase": &p.Purchase, "inquiry": &p.Inquiry} {
			var err error
			if *dst, err = parsePeriod(q.Get(name)); err != nil {
				writeError(w, http.StatusBadRequest, fmt.Errorf("parameter %q: %w", name, err))
				return
			}
		}
		a, err := store.Exemption(number, q.Get("seller"), at, p)
		answer(w, a, err)
	})
}

func numberAt(w http.ResponseWriter, r *http.Request) (string, time.Time, bool) {
	number, ok := param(w, r, "number")
	if !ok {
		return "", time.Time{}, false
	}
	v, ok := param(w, r, "at")
	if !ok {
		return "", time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("parameter \"at\": %w", err))
		return "", time.Time{}, false
	}
	return number, at, true
}

func answer(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, v)
}

// A period travels as MONTHS,DAYS.
func formatPeriod(p registry.Period) string { return fmt.Sprintf("%d,%d", p.Months, p.Days) }

func parsePeriod(s string) (registry.Period, error) {
	m, d, ok := strings.Cut(s, ",")
	months, err1 := strconv.Atoi(m)
	days, err2 := strconv.Atoi(d)
	if !ok || err1 != nil || err2 != nil {
		return registry.Period{}, fmt.Errorf("%q is not MONTHS,DAYS", s)
	}
	return registry.Period{Months: months, Days: days}, nil
}

// ImportDataSet asks the server to import a data set from files it reads itself (absolute paths).
func (c *Client) ImportDataSet(ctx context.Context, req registry.DataSetRequest) (registry.ListInfo, error) {
	var info registry.ListInfo
	err := c.do(ctx, http.MethodPost, pathDataSetImport, nil, req, &info)
	return info, err
}

// DataSets describes the data sets beside the lists.
func (c *Client) DataSets() ([]registry.ListInfo, error) {
	var sets []registry.ListInfo
	err := c.get(pathDataSets, nil, &sets)
	return sets, err
}

// LineType tells the line type of the number (see registry.Store.LineType).
func (c *Client) LineType(e164, routing string) (registry.LineType, error) {
	var lt registry.LineType
	err := c.get(pathLineType, url.Values{"number": {e164}, "rn": {routing}}, &lt)
	return lt, err
}

// NumberData gathers what the data sets know of the number.
func (c *Client) NumberData(e164, routing string) (registry.NumberData, error) {
	var d registry.NumberData
	err := c.get(pathNumberData, url.Values{"number": {e164}, "rn": {routing}}, &d)
	return d, err
}

// Consent answers the consent that applies to a call (see registry.Store.Consent).
func (c *Client) Consent(e164, seller, campaign string, at time.Time) (registry.ConsentAnswer, error) {
	var a registry.ConsentAnswer
	q := url.Values{"number": {e164}, "seller": {seller}, "campaign": {campaign}, "at": {at.Format(time.RFC3339Nano)}}
	err := c.get(pathConsent, q, &a)
	return a, err
}

// ChangeConsent adds or revokes a consent on the server, in force from its next call.
func (c *Client) ChangeConsent(req registry.ConsentRequest) (registry.ConsentChange, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var change registry.ConsentChange
	err := c.do(ctx, http.MethodPost, pathConsent, nil, req, &change)
	return change, err
}

// Exemption answers whether an exemption is in force (see registry.Store.Exemption).
func (c *Client) Exemption(e164, seller string, at time.Time, p registry.ExemptionPeriods) (registry.ExemptionAnswer, error) {
	var a registry.ExemptionAnswer
	q := url.Values{"number": {e164}, "seller": {seller}, "at": {at.Format(time.RFC3339Nano)},
		"purchase": {formatPeriod(p.Purchase)}, "inquiry": {formatPeriod(p.Inquiry)}}
	err := c.get(pathExemption, q, &a)
	return a, err
}
