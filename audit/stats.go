package audit

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StatsGroups are the names Stats groups calls by: the decision's date
// (day YYYY-MM-DD, month YYYY-MM, hour YYYY-MM-DDTHH in Query.Zone) and its
// fields.
var StatsGroups = []string{"day", "month", "hour", "rule", "decision", "status", "campaign", "dialer", "seller", "mode"}

// Row counts the calls of one group: Group holds its values, in the order
// of the names given to Stats.
type Row struct {
	Group []string `json:"group"`
	// Calls counts the decisions; Allowed and Rejected split them. Monitored
	// counts the allowed calls a monitored rule would have rejected.
	Calls     int64 `json:"calls"`
	Allowed   int64 `json:"allowed"`
	Rejected  int64 `json:"rejected"`
	Monitored int64 `json:"monitored"`
}

// RejectRate is Rejected / Calls, 0 for no call.
func (r Row) RejectRate() float64 {
	if r.Calls == 0 {
		return 0
	}
	return float64(r.Rejected) / float64(r.Calls)
}

// Stats counts the calls Search would return for q (its Limit aside),
// grouped by the names in by (StatsGroups; none: one row of totals). Rows
// come sorted by their group values. An unknown name is ErrUnknownGroup.
func Stats(dir string, q Query, by []string) ([]Row, error) {
	for _, g := range by {
		if !slices.Contains(StatsGroups, g) {
			return nil, fmt.Errorf("%w: %q (one of %s)", ErrUnknownGroup, g, strings.Join(StatsGroups, ", "))
		}
	}
	zone := q.Zone
	if zone == nil {
		zone = time.UTC
	}
	q.Limit = 0
	rows := map[string]*Row{}
	group := make([]string, len(by))
	for c, err := range Search(dir, q) {
		if err != nil {
			return nil, err
		}
		d := &c.Decision
		for i, g := range by {
			group[i] = groupValue(g, d, c.Seller, zone)
		}
		key := strings.Join(group, "\x00")
		r := rows[key]
		if r == nil {
			r = &Row{Group: slices.Clone(group)}
			rows[key] = r
		}
		r.Calls++
		switch d.Decision {
		case "allow":
			r.Allowed++
		case "reject":
			r.Rejected++
		}
		if d.Monitor {
			r.Monitored++
		}
	}
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Row) int { return slices.Compare(a.Group, b.Group) })
	return out, nil
}

func groupValue(name string, d *Record, seller string, zone *time.Location) string {
	switch name {
	case "day":
		return d.Time.In(zone).Format("2006-01-02")
	case "month":
		return d.Time.In(zone).Format("2006-01")
	case "hour":
		return d.Time.In(zone).Format("2006-01-02T15")
	case "rule":
		return d.Rule
	case "decision":
		return d.Decision
	case "status":
		return strconv.Itoa(d.Status)
	case "campaign":
		return d.Campaign
	case "dialer":
		return d.Dialer
	case "seller":
		return seller
	case "mode":
		return d.Mode
	}
	return ""
}
