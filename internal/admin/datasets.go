package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
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

func (a *api) importDataSet(w http.ResponseWriter, r *http.Request) error {
	var req registry.DataSetRequest
	if err := decodeBody(r, "import request", &req); err != nil {
		return err
	}
	if err := absolutePaths(req.Files); err != nil {
		return err
	}
	info, err := a.store.ImportDataSet(r.Context(), req)
	debug.FreeOSMemory() // as after a list import: give the import's buffers back now
	if err != nil {
		return withStatus(http.StatusUnprocessableEntity, err)
	}
	return writeJSON(w, info)
}

func (a *api) dataSets(w http.ResponseWriter, _ *http.Request) error {
	sets, err := a.store.DataSets()
	return answer(w, sets, err)
}

// lineType and numberData answer GET ?number=&rn= (rn: the routing number, may be empty).
func (a *api) lineType(w http.ResponseWriter, r *http.Request) error {
	return byNumber(w, r, a.store.LineType)
}

func (a *api) numberData(w http.ResponseWriter, r *http.Request) error {
	return byNumber(w, r, a.store.NumberData)
}

func byNumber[T any](w http.ResponseWriter, r *http.Request, get func(e164, routing string) (T, error)) error {
	number, err := param(r, "number")
	if err != nil {
		return err
	}
	v, err := get(number, r.URL.Query().Get("rn"))
	return answer(w, v, err)
}

func (a *api) consent(w http.ResponseWriter, r *http.Request) error {
	number, at, err := numberAt(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	c, err := a.store.Consent(number, q.Get("seller"), q.Get("campaign"), at)
	return answer(w, c, err)
}

// changeConsent adds or revokes a consent (gatekeeper consent add | revoke).
func (a *api) changeConsent(w http.ResponseWriter, r *http.Request) error {
	var req registry.ConsentRequest
	return liveChange(w, r, "consent request", &req, &req.By, &req.Via, a.store.ChangeConsent)
}

func (a *api) exemption(w http.ResponseWriter, r *http.Request) error {
	number, at, err := numberAt(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var p registry.ExemptionPeriods
	for name, dst := range map[string]*registry.Period{"purchase": &p.Purchase, "inquiry": &p.Inquiry} {
		if *dst, err = parsePeriod(q.Get(name)); err != nil {
			return withStatus(http.StatusBadRequest, fmt.Errorf("parameter %q: %w", name, err))
		}
	}
	e, err := a.store.Exemption(number, q.Get("seller"), at, p)
	return answer(w, e, err)
}

// numberAt reads the parameters number and at (RFC 3339), which must be given.
func numberAt(r *http.Request) (string, time.Time, error) {
	number, err := param(r, "number")
	if err != nil {
		return "", time.Time{}, err
	}
	at, err := timeParam(r, "at")
	return number, at, err
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
