package admin

import (
	"context"
	"net/http"
	"net/url"
	"runtime/debug"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// The endpoints of the data sets beside the lists: line type, consent, RND
// answers, exemptions. Times are RFC 3339.
const (
	pathDataSetImport = "/v1/datasets/import" // POST registry.DataSetRequest -> registry.ListInfo
	pathDataSets      = "/v1/datasets"        // GET -> []registry.ListInfo
	pathLineType      = "/v1/linetype"        // GET ?number=&rn= -> registry.LineType
	pathConsent       = "/v1/consent"         // GET ?number= -> records[registry.ConsentRecord]; POST registry.ConsentRequest -> registry.ConsentChange
	pathRND           = "/v1/rnd"             // GET ?number= -> records[registry.RNDRecord]
	pathExemption     = "/v1/exemption"       // GET ?number= -> records[registry.ExemptionRecord]
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
	by, via := importedBy(r)
	a.onChange(Change{Kind: req.Kind, Import: &info, By: by, Via: via})
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

// consents, rndAnswers and exemptions answer GET ?number= with the number's
// records: the policy decides what they mean.
func (a *api) consents(w http.ResponseWriter, r *http.Request) error {
	number, err := param(r, "number")
	if err != nil {
		return err
	}
	var rs records[registry.ConsentRecord]
	rs.Records, rs.Revocations, rs.Version, err = a.store.Consents(number)
	return answer(w, rs, err)
}

func (a *api) rndAnswers(w http.ResponseWriter, r *http.Request) error {
	return recordsOf(w, r, a.store.RNDAnswers)
}

func (a *api) exemptions(w http.ResponseWriter, r *http.Request) error {
	return recordsOf(w, r, a.store.Exemptions)
}

func recordsOf[T any](w http.ResponseWriter, r *http.Request, get func(e164 string) ([]T, uint64, error)) error {
	number, err := param(r, "number")
	if err != nil {
		return err
	}
	var rs records[T]
	rs.Records, rs.Version, err = get(number)
	return answer(w, rs, err)
}

// records are the records of one number in a data set, and the set's version.
type records[T any] struct {
	Records     []T                      `json:"records"`
	Revocations []registry.ConsentChange `json:"revocations,omitempty"` // consent only: the live revocations
	Version     uint64                   `json:"version"`
}

// changeConsent adds or revokes a consent (gatekeeper consent add | revoke).
func (a *api) changeConsent(w http.ResponseWriter, r *http.Request) error {
	var req registry.ConsentRequest
	return liveChange(w, r, "consent request", &req, &req.By, &req.Via, a.consentChanger(r.Context()), func(c registry.ConsentChange, by, via string) {
		a.onChange(Change{Consent: &c, By: by, Via: via})
	})
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

// Consents returns the consent records and live revocations of the number
// (see registry.Store.Consents).
func (c *Client) Consents(e164 string) ([]registry.ConsentRecord, []registry.ConsentChange, uint64, error) {
	var rs records[registry.ConsentRecord]
	err := c.get(pathConsent, url.Values{"number": {e164}}, &rs)
	return rs.Records, rs.Revocations, rs.Version, err
}

// RNDAnswers returns the RND answers of the number (see registry.Store.RNDAnswers).
func (c *Client) RNDAnswers(e164 string) ([]registry.RNDRecord, uint64, error) {
	var rs records[registry.RNDRecord]
	err := c.get(pathRND, url.Values{"number": {e164}}, &rs)
	return rs.Records, rs.Version, err
}

// ChangeConsent adds or revokes a consent on the server, in force from its next call.
func (c *Client) ChangeConsent(req registry.ConsentRequest) (registry.ConsentChange, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var change registry.ConsentChange
	err := c.do(ctx, http.MethodPost, pathConsent, nil, req, &change)
	return change, err
}

// Exemptions returns the exemption records of the number (see registry.Store.Exemptions).
func (c *Client) Exemptions(e164 string) ([]registry.ExemptionRecord, uint64, error) {
	var rs records[registry.ExemptionRecord]
	err := c.get(pathExemption, url.Values{"number": {e164}}, &rs)
	return rs.Records, rs.Version, err
}
