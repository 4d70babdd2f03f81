package policy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// outside_hours holds when the called party's local time is outside the
// calling hours of its weekday, in any of the time zones its area code spans
// (an area code on a zone line is callable only when the time is legal in all):
//
//	match:
//	  outside_hours: {daily: "08:00-21:00"}
//	  outside_hours: {mon-fri: "09:00-18:00", sat: "10:00-17:00", sun: closed}
//	  outside_hours: by_state      # the hours of the called number's state, under states:
//
// Every weekday must be given exactly once: by day (mon ... sun), by a range
// (mon-fri, mon-sat, sat-sun) or with daily. A window includes its opening
// minute and excludes its closing one: 08:00-21:00 allows 20:59, not 21:00.
// A number outside the NANP has no zone here and is never outside hours.
// The trace value is the zone whose time is outside, else the first zone.
type outsideHours struct {
	hours  *weekHours             // nil with by_state
	states map[string]*stateRules // with by_state
}

func init() { registerCondition("outside_hours", parseOutsideHours) }

func parseOutsideHours(p *parser, value ast.Node) (condition, error) {
	if byState(value) {
		return &outsideHours{states: p.states}, nil
	}
	h, err := parseWeekHours(value, "outside_hours")
	return &outsideHours{hours: h}, err
}

func (o *outsideHours) eval(_ context.Context, f *facts, _ Registry) (ConditionTrace, error) {
	h := o.hours
	if h == nil {
		rules := o.states[f.state()]
		if rules == nil || rules.hours == nil {
			return ConditionTrace{Value: NoStateRule}, nil
		}
		h = rules.hours
	}
	for i, zone := range f.zones {
		if h.outside(f.Time.In(zone)) {
			return ConditionTrace{Holds: true, Value: f.zoneNames[i]}, nil
		}
	}
	if len(f.zones) == 0 {
		return ConditionTrace{Value: noTimeZone}, nil
	}
	return ConditionTrace{Value: f.zoneNames[0]}, nil
}

// Trace values of a time or state rule that had nothing to go on:
// NoStateRule is the Value of a condition the called party's state has no
// rule for (outside_hours, holiday, attempts), which then held no count.
const (
	noTimeZone  = "no time zone (outside the NANP)"
	NoStateRule = "no state rule"
)

// weekHours holds the calling window of each weekday, indexed by time.Weekday.
type weekHours [7]window

// window is open from minute open (inclusive) to close (exclusive) of the
// local day; a closed day has open == close.
type window struct{ open, close int }

func (h *weekHours) outside(local time.Time) bool {
	w := h[local.Weekday()]
	m := local.Hour()*60 + local.Minute()
	return m < w.open || m >= w.close
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func parseWeekHours(node ast.Node, what string) (*weekHours, error) {
	mapping, ok := node.(ast.MapNode)
	if !ok {
		return nil, yamlx.At(node, `%s: want hours per weekday, e.g. {daily: "08:00-21:00"} or {mon-sat: "08:00-20:00", sun: closed}`, what)
	}
	var h weekHours
	var given [7]ast.Node
	for it := mapping.MapRange(); it.Next(); {
		days, err := weekdays(it.Key().GetToken().Value)
		if err != nil {
			return nil, yamlx.At(it.Key(), "%s: %v", what, err)
		}
		w, err := parseWindow(it.Value())
		if err != nil {
			return nil, yamlx.At(it.Value(), "%s: %v", what, err)
		}
		for _, d := range days {
			if given[d] != nil {
				return nil, yamlx.At(it.Key(), "%s: %s is already given at line %d", what, dayNames[d], given[d].GetToken().Position.Line)
			}
			given[d], h[d] = it.Key(), w
		}
	}
	var missing []string
	for d := range 7 {
		if given[(d+1)%7] == nil { // list Monday first
			missing = append(missing, dayNames[(d+1)%7])
		}
	}
	if len(missing) > 0 {
		return nil, yamlx.At(node, "%s: no hours for %s; write closed for a day without calls", what, strings.Join(missing, ", "))
	}
	return &h, nil
}

// weekdays reads daily, a day (mon) or a range of days (mon-fri), Monday first.
func weekdays(key string) ([]int, error) {
	if key == "daily" {
		key = "mon-sun"
	}
	first, last, isRange := strings.Cut(key, "-")
	if !isRange {
		last = first
	}
	from, to := dayIndex(first), dayIndex(last)
	if from < 0 || to < 0 {
		return nil, fmt.Errorf("%q is not daily, a day (mon, tue, wed, thu, fri, sat, sun) or a range such as mon-fri", key)
	}
	// Count Monday as 0 so that ranges run Monday to Sunday.
	mondayFirst := func(d int) int { return (d + 6) % 7 }
	if mondayFirst(from) > mondayFirst(to) {
		return nil, fmt.Errorf("%q runs backwards; weeks run mon to sun", key)
	}
	var days []int
	for d := mondayFirst(from); d <= mondayFirst(to); d++ {
		days = append(days, (d+1)%7)
	}
	return days, nil
}

func dayIndex(name string) int {
	for i, d := range dayNames {
		if d == name {
			return i
		}
	}
	return -1
}

// parseWindow reads "HH:MM-HH:MM" or closed.
func parseWindow(node ast.Node) (window, error) {
	s, err := yamlx.String(node)
	if err != nil {
		return window{}, err
	}
	if s == "closed" {
		return window{}, nil
	}
	from, to, ok := strings.Cut(s, "-")
	open, err1 := minuteOfDay(from)
	closing, err2 := minuteOfDay(to)
	if !ok || err1 != nil || err2 != nil {
		return window{}, fmt.Errorf(`%q is not a window such as "08:00-21:00", nor closed`, s)
	}
	if open >= closing {
		return window{}, fmt.Errorf(`window %q closes before it opens`, s)
	}
	return window{open, closing}, nil
}

// minuteOfDay reads HH:MM, 00:00 to 24:00.
func minuteOfDay(s string) (int, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("not HH:MM")
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || m > 59 || h*60+m > 24*60 {
		return 0, fmt.Errorf("not HH:MM")
	}
	return h*60 + m, nil
}
