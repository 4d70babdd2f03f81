package policy

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// line_type holds when the called number's line type is one of those named:
//
//	match:
//	  line_type: [mobile, unknown]
//	  line_type: {in: [mobile, unknown], ported_grace: 15d}
//
// The registry answers from the port lists, the block of the routing number
// (an ;npdi;rn= dip), the block of the number, or phonenumbers outside the
// NANP; a number no data knows is unknown. ported_grace is the safe harbor
// of 47 CFR 64.1200(a)(1)(iv): a number ported from wireline to wireless
// within that time before the call (when the port data dates it) counts as
// the landline it was. The trace value is the type and the data that
// decided it; the trace cites the versions of the port lists that do not
// hold the number, then that of the data that decided.
type lineType struct {
	types []string
	grace time.Duration
}

var lineTypes = []string{registry.LineMobile, registry.LineLandline, registry.LineVoIP, registry.LineUnknown}

func init() { registerCondition("line_type", parseLineType) }

// lineTypeValues are the trace values, "TYPE from SOURCE", made once.
var lineTypeValues = map[string]map[string]string{}

func init() {
	for _, t := range lineTypes {
		lineTypeValues[t] = map[string]string{}
		for _, source := range []string{registry.SourcePortedToWireless, registry.SourcePortedToWireline, registry.SourceLRNBlock,
			registry.SourceBlock, registry.SourcePhonenumbers, registry.SourceNone} {
			lineTypeValues[t][source] = t + " from " + source
		}
	}
}

func parseLineType(_ *parser, value ast.Node) (condition, error) {
	const example = "[mobile, unknown] or {in: [mobile, unknown], ported_grace: 15d}"
	in := value
	var grace time.Duration
	if _, ok := value.(ast.MapNode); ok {
		var f struct {
			In          anyNode `yaml:"in"`
			PortedGrace anyNode `yaml:"ported_grace"`
		}
		if err := yaml.NodeToValue(value, &f, yaml.DisallowUnknownField()); err != nil {
			return nil, err
		}
		if in = field(value, "in"); in == nil {
			return nil, yamlx.At(value, "line_type: want in, e.g. %s", example)
		}
		if g := field(value, "ported_grace"); g != nil {
			var err error
			if grace, err = period(g, "line_type: ported_grace"); err != nil {
				return nil, err
			}
		}
	}
	types, nodes, err := stringList(in, "line_type", example)
	if err != nil {
		return nil, err
	}
	for i, t := range types {
		if !slices.Contains(lineTypes, t) {
			return nil, yamlx.At(nodes[i], "line_type %q is not one of %s", t, strings.Join(lineTypes, ", "))
		}
	}
	return &lineType{types: types, grace: grace}, nil
}

func (l *lineType) eval(_ context.Context, f *facts, reg Registry) (ConditionTrace, error) {
	lt, err := reg.LineType(f.Called, f.RoutingNumber)
	if err != nil {
		return ConditionTrace{}, err
	}
	typ, value := lt.Type, lineTypeValues[lt.Type][lt.Source]
	if value == "" { // a source no table names (a test fixture's)
		value = lt.Type + " from " + lt.Source
	}
	if l.grace > 0 && lt.Source == registry.SourcePortedToWireless && !lt.PortedOn.IsZero() && f.Time.Sub(lt.PortedOn) < l.grace {
		typ = registry.LineLandline
		value = "landline: ported to wireless on " + lt.PortedOn.Format(time.DateOnly) + ", within the grace"
	}
	t := ConditionTrace{Holds: slices.Contains(l.types, typ), Value: value}
	t.Cite(lt.NotPorted[0])
	t.Cite(lt.NotPorted[1])
	t.Cite(lt.Version)
	return t, nil
}
