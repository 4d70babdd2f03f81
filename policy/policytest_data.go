package policy

import (
	"fmt"
	"slices"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// testData are the fixtures a policy test case gives for its called number,
// beside the lists. Times are RFC 3339, a date (YYYY-MM-DD) or a length of
// time before the call (30d, 2h):
//
//	line_type: mobile                 # mobile, landline, voip, unknown
//	ported: 3d                        # ported from wireline to wireless this long before the call
//	consents: [{kind: written, seller: acme, campaign: spring, granted: 30d, expires: ..., revoked: ...}]
//	rnd: [{answer: yes, asked: 10d, disconnected: 5d}]
//	exemptions: [{kind: purchase, seller: acme, date: 2025-12-01}]
//	abandonment: {live_answered: 200, abandoned: 6, since: 12d}  # the call's campaign's current period
type testData struct {
	LineType   string          `yaml:"line_type"`
	Ported     string          `yaml:"ported"`
	Consents   []testConsent   `yaml:"consents"`
	RND        []testRND       `yaml:"rnd"`
	Exemptions []testExemption `yaml:"exemptions"`
	// Abandonment is the call's campaign's accounting period the call
	// falls in: its counts so far and when it began (default: the call's day).
	Abandonment *testAbandonment `yaml:"abandonment"`
}

type testAbandonment struct {
	LiveAnswered int64  `yaml:"live_answered"`
	Abandoned    int64  `yaml:"abandoned"`
	SafeHarbor   int64  `yaml:"safe_harbor"`
	Since        string `yaml:"since"`
}

type testConsent struct {
	Kind     string `yaml:"kind"`
	Seller   string `yaml:"seller"`
	Campaign string `yaml:"campaign"`
	Granted  string `yaml:"granted"`
	Expires  string `yaml:"expires"`
	Revoked  string `yaml:"revoked"`
}

type testRND struct {
	Answer       string `yaml:"answer"`
	Asked        string `yaml:"asked"`
	Disconnected string `yaml:"disconnected"`
}

type testExemption struct {
	Kind   string `yaml:"kind"`
	Seller string `yaml:"seller"`
	Date   string `yaml:"date"`
}

// load puts the fixtures into the case's registry, for the call c.
func (d *testData) load(reg *memoryRegistry, defaults *testDefaults, c Call) error {
	if defaults.LineType != "" {
		if !slices.Contains(lineTypes, defaults.LineType) {
			return fmt.Errorf("defaults: line_type %q is not one of %v", defaults.LineType, lineTypes)
		}
		reg.data.defaultLineType = registry.LineType{Type: defaults.LineType, Source: "test default"}
	}
	if d.LineType != "" || d.Ported != "" {
		lt := registry.LineType{Type: d.LineType, Source: "test case"}
		if d.Ported != "" {
			ported, err := when(d.Ported, c.Time)
			if err != nil {
				return fmt.Errorf("ported: %w", err)
			}
			lt = registry.LineType{Type: registry.LineMobile, Source: registry.SourcePortedToWireless, PortedOn: ported}
		}
		if !slices.Contains(lineTypes, lt.Type) {
			return fmt.Errorf("line_type %q is not one of %v", lt.Type, lineTypes)
		}
		reg.data.lineTypes[c.Called] = lt
	}
	for i, tc := range d.Consents {
		r := registry.ConsentRecord{ID: fmt.Sprintf("test.%d", i+1), Number: c.Called, Seller: tc.Seller, Campaign: tc.Campaign, Kind: tc.Kind}
		if tc.Kind != registry.ConsentExpress && tc.Kind != registry.ConsentWritten {
			return fmt.Errorf("consents[%d]: kind %q is not express or written", i, tc.Kind)
		}
		for _, t := range []struct {
			s        string
			dst      *time.Time
			required bool
		}{{tc.Granted, &r.GrantedAt, true}, {tc.Expires, &r.ExpiresAt, false}, {tc.Revoked, &r.RevokedAt, false}} {
			if t.s == "" && !t.required {
				continue
			}
			var err error
			if *t.dst, err = when(t.s, c.Time); err != nil {
				return fmt.Errorf("consents[%d]: %w", i, err)
			}
		}
		reg.data.consents[c.Called] = append(reg.data.consents[c.Called], r)
	}
	for i, tr := range d.RND {
		a := registry.RNDRecord{ID: fmt.Sprintf("test.%d", i+1), Number: c.Called, Answer: tr.Answer}
		var err error
		if a.AskedOn, err = when(tr.Asked, c.Time); err != nil {
			return fmt.Errorf("rnd[%d]: %w", i, err)
		}
		if tr.Disconnected != "" {
			if a.DisconnectedOn, err = when(tr.Disconnected, c.Time); err != nil {
				return fmt.Errorf("rnd[%d]: %w", i, err)
			}
		}
		reg.data.rnd[c.Called] = append(reg.data.rnd[c.Called], a)
	}
	for i, te := range d.Exemptions {
		e := registry.ExemptionRecord{ID: fmt.Sprintf("test.%d", i+1), Number: c.Called, Seller: te.Seller, Kind: te.Kind}
		var err error
		if e.Date, err = when(te.Date, c.Time); err != nil {
			return fmt.Errorf("exemptions[%d]: %w", i, err)
		}
		reg.data.exemptions[c.Called] = append(reg.data.exemptions[c.Called], e)
	}
	if a := d.Abandonment; a != nil {
		p := registry.AbandonmentPeriod{Campaign: c.Campaign, Start: c.Time.Truncate(24 * time.Hour),
			LiveAnswered: a.LiveAnswered, Abandoned: a.Abandoned, SafeHarbor: a.SafeHarbor}
		if a.Since != "" {
			var err error
			if p.Start, err = when(a.Since, c.Time); err != nil {
				return fmt.Errorf("abandonment: since: %w", err)
			}
		}
		if a.Abandoned > a.LiveAnswered || a.SafeHarbor > a.Abandoned || a.Abandoned < 0 {
			return fmt.Errorf("abandonment: want 0 <= safe_harbor <= abandoned <= live_answered")
		}
		p.End = p.Start.Add(registry.AbandonmentPeriodLength)
		reg.data.abandonment[c.Campaign] = p
	}
	return nil
}

// when reads a time: RFC 3339, a date, or a length of time before callTime.
func when(s string, callTime time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	ago, err := period(&ast.StringNode{Value: s}, "time")
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not RFC 3339, a date or a length of time before the call such as 30d", s)
	}
	return callTime.Add(-ago), nil
}
