package policy

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

func TestLineTypeCondition(t *testing.T) {
	c := call("+12125550143") // 2026-03-02 15:00 UTC
	reg := newMemRegistry(nil)
	const match = "      line_type: {in: [mobile, unknown], ported_grace: 15d}\n"
	cases := []struct {
		lt      registry.LineType
		matched bool
		value   string
	}{
		{registry.LineType{Type: "unknown", Source: "none"}, true, "unknown from none"},
		{registry.LineType{Type: "landline", Source: "block", Version: 7}, false, "landline from block"},
		{registry.LineType{Type: "mobile", Source: "lrn-block", Version: 7}, true, "mobile from lrn-block"},
		{registry.LineType{Type: "mobile", Source: registry.SourcePortedToWireless, PortedOn: c.Time.AddDate(0, 0, -14)}, false, "landline: ported to wireless on 2026-02-16, within the grace"},
		{registry.LineType{Type: "mobile", Source: registry.SourcePortedToWireless, PortedOn: c.Time.AddDate(0, 0, -15)}, true, "mobile from wireline-to-wireless"},
		{registry.LineType{Type: "mobile", Source: registry.SourcePortedToWireless}, true, "mobile from wireline-to-wireless"}, // no port date: no grace
	}
	for _, tc := range cases {
		reg.data.lineTypes[c.Called] = tc.lt
		matched, trace := evalOne(t, "", match, c, reg)
		if matched != tc.matched || trace[0].Value != tc.value || trace[0].Version != tc.lt.Version {
			t.Errorf("%+v: %v %+v; want %v %q", tc.lt, matched, trace, tc.matched, tc.value)
		}
	}
	// The port lists that do not hold the number are cited before the data that answered.
	reg.data.lineTypes[c.Called] = registry.LineType{Type: "landline", Source: "block", Version: 9, NotPorted: [2]uint64{5, 6}}
	if _, trace := evalOne(t, "", match, c, reg); !slices.Equal(trace[0].Versions, []uint64{5, 6, 9}) || trace[0].Version != 0 {
		t.Errorf("not ported, from the block: %+v; want versions [5 6 9]", trace[0])
	}
	reg.data.lineTypes[c.Called] = registry.LineType{Type: "unknown", Source: "none", NotPorted: [2]uint64{5, 0}}
	if _, trace := evalOne(t, "", match, c, reg); trace[0].Version != 5 || trace[0].Versions != nil {
		t.Errorf("on no list, no block data: %+v; want version 5", trace[0])
	}
	// Without the setting, a fresh port is a mobile.
	reg.data.lineTypes[c.Called] = registry.LineType{Type: "mobile", Source: registry.SourcePortedToWireless, PortedOn: c.Time.AddDate(0, 0, -1)}
	if matched, _ := evalOne(t, "", "      line_type: [mobile]\n", c, reg); !matched {
		t.Error("a port without grace set was not mobile")
	}
	for match, want := range map[string]string{
		"      line_type: [cell]\n":                        `p.yaml:4:19: line_type "cell" is not one of mobile, landline, voip, unknown`,
		"      line_type: {ported_grace: 15d}\n":           "p.yaml:4:18: line_type: want in",
		"      line_type: {in: [voip], ported_grace: x}\n": `p.yaml:4:45: line_type: ported_grace: "x" is not a length of time`,
	} {
		if got := parseErr("", match); !strings.HasPrefix(got, want) {
			t.Errorf("%q: %s; want %s", match, got, want)
		}
	}
}
