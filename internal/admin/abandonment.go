package admin

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

const (
	pathAbandonment        = "/v1/abandonment"         // GET ?campaign=&at= -> registry.AbandonmentPeriod
	pathAbandonmentPeriods = "/v1/abandonment/periods" // GET -> []registry.AbandonmentPeriod
)

// abandonment answers a campaign's accounting period at a time; campaign
// may be empty (calls without a campaign).
func (a *api) abandonment(w http.ResponseWriter, r *http.Request) error {
	at, err := timeParam(r, "at")
	if err != nil {
		return err
	}
	p, err := a.store.Abandonment(r.URL.Query().Get("campaign"), at)
	return answer(w, p, err)
}

func (a *api) abandonmentPeriods(w http.ResponseWriter, _ *http.Request) error {
	periods, err := a.store.AbandonmentPeriods()
	return answer(w, periods, err)
}

// Abandonment returns a campaign's accounting period at a time (see
// registry.Store.Abandonment).
func (c *Client) Abandonment(campaign string, at time.Time) (registry.AbandonmentPeriod, error) {
	var p registry.AbandonmentPeriod
	err := c.get(pathAbandonment, url.Values{"campaign": {campaign}, "at": {at.Format(time.RFC3339Nano)}}, &p)
	return p, err
}

// AbandonmentPeriods returns every campaign's accounting periods (see
// registry.Store.AbandonmentPeriods).
func (c *Client) AbandonmentPeriods() ([]registry.AbandonmentPeriod, error) {
	var periods []registry.AbandonmentPeriod
	err := c.get(pathAbandonmentPeriods, nil, &periods)
	return periods, err
}
