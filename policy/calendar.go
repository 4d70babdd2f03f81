package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// A calendar is a named set of holidays, declared under holidays: and used
// by the holiday condition and by the states table:
//
//	holidays:
//	  federal:
//	    observed: nearest_weekday   # a Saturday holiday is also kept on Friday, a Sunday one on Monday
//	    days:
//	      new-years-day: january 1
//	      memorial-day: last monday of may
//	      thanksgiving: fourth thursday of november
//	      day-after-thanksgiving: 2026-11-27   # a one-off date
//
// observed is nearest_weekday or none (the default). With nearest_weekday
// both the day itself and its observed weekday are holidays.
type calendar struct {
	name string
	// days maps a date (yyyymmdd) to the holiday's name, for every year in
	// calendarYears: computed once at load, so a lookup is one map read.
	days map[int]string
}

// calendarYears bounds the years a calendar's rules are expanded over.
const (
	calendarFirstYear = 2000
	calendarLastYear  = 2199
)

func dateKey(y int, m time.Month, d int) int { return y*10000 + int(m)*100 + d }

// holiday returns the name of the holiday on the local date of t, or "".
func (c *calendar) holiday(t time.Time) string {
	y, m, d := t.Date()
	return c.days[dateKey(y, m, d)]
}

func parseCalendars(node ast.Node) (map[string]*calendar, error) {
	cals := map[string]*calendar{}
	if node == nil {
		return cals, nil
	}
	mapping, ok := node.(ast.MapNode)
	if !ok {
		return nil, yamlx.At(node, "holidays: want calendars by name, each with days")
	}
	for it := mapping.MapRange(); it.Next(); {
		c, err := parseCalendar(it.Key().GetToken().Value, it.Value())
		if err != nil {
			return nil, err
		}
		cals[c.name] = c
	}
	return cals, nil
}

func parseCalendar(name string, node ast.Node) (*calendar, error) {
	var f struct {
		Observed string  `yaml:"observed"`
		Days     anyNode `yaml:"days"`
	}
	if _, ok := node.(ast.MapNode); !ok {
		return nil, yamlx.At(node, "holidays: %s: want observed and days", name)
	}
	if err := yaml.NodeToValue(node, &f, yaml.DisallowUnknownField()); err != nil {
		return nil, err
	}
	if f.Observed != "" && f.Observed != "none" && f.Observed != "nearest_weekday" {
		return nil, yamlx.At(field(node, "observed"), "holidays: %s: observed %q is not nearest_weekday or none", name, f.Observed)
	}
	days, ok := field(node, "days").(ast.MapNode)
	if !ok {
		return nil, yamlx.At(valueAt(node, "days"), "holidays: %s: want days, one per line, NAME: DATE RULE", name)
	}
	c := &calendar{name: name, days: map[int]string{}}
	for it := days.MapRange(); it.Next(); {
		holiday := it.Key().GetToken().Value
		text, err := yamlx.String(it.Value())
		if err != nil {
			return nil, err
		}
		dates, err := expandDateRule(text)
		if err != nil {
			return nil, yamlx.At(it.Value(), "holidays: %s: %s: %v", name, holiday, err)
		}
		for _, day := range dates {
			c.add(day, holiday)
			if f.Observed == "nearest_weekday" {
				switch day.Weekday() {
				case time.Saturday:
					c.add(day.AddDate(0, 0, -1), holiday+" (observed)")
				case time.Sunday:
					c.add(day.AddDate(0, 0, 1), holiday+" (observed)")
				}
			}
		}
	}
	return c, nil
}

func (c *calendar) add(day time.Time, name string) {
	key := dateKey(day.Date())
	if _, taken := c.days[key]; !taken {
		c.days[key] = name
	}
}

var ordinals = map[string]int{"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}

// expandDateRule turns a rule into its dates: "january 1" and "third monday
// of january" give one date a year; "2026-11-27" gives that date.
func expandDateRule(text string) ([]time.Time, error) {
	if day, err := time.Parse(time.DateOnly, text); err == nil {
		return []time.Time{day}, nil
	}
	words := strings.Fields(strings.ToLower(text))
	var dates []time.Time
	switch {
	case len(words) == 2: // january 1
		month, ok := monthNamed(words[0])
		d, err := strconv.Atoi(words[1])
		if !ok || err != nil || d < 1 || d > 31 {
			break
		}
		for y := calendarFirstYear; y <= calendarLastYear; y++ {
			day := time.Date(y, month, d, 0, 0, 0, 0, time.UTC)
			if day.Month() != month {
				return nil, fmt.Errorf("%q: %s has no day %d", text, month, d)
			}
			dates = append(dates, day)
		}
		return dates, nil
	case len(words) == 4 && words[2] == "of": // third monday of january
		nth, okOrd := ordinals[words[0]]
		weekday, okDay := weekdayNamed(words[1])
		month, okMonth := monthNamed(words[3])
		if !okOrd || !okDay || !okMonth {
			break
		}
		for y := calendarFirstYear; y <= calendarLastYear; y++ {
			dates = append(dates, nthWeekday(y, month, weekday, nth))
		}
		return dates, nil
	}
	return nil, fmt.Errorf(`%q is not a date rule such as "january 1", "third monday of january", "last monday of may" or 2026-11-27`, text)
}

func monthNamed(s string) (time.Month, bool) {
	for m := time.January; m <= time.December; m++ {
		if strings.EqualFold(m.String(), s) {
			return m, true
		}
	}
	return 0, false
}

func weekdayNamed(s string) (time.Weekday, bool) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(d.String(), s) {
			return d, true
		}
	}
	return 0, false
}

// nthWeekday is the nth (1-4, or -1 for the last) weekday of the month.
func nthWeekday(year int, month time.Month, weekday time.Weekday, nth int) time.Time {
	if nth < 0 {
		last := time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC)
		return last.AddDate(0, 0, -((int(last.Weekday()) - int(weekday) + 7) % 7))
	}
	first := time.Date(year, month, 1, 0, 0, 0, 0, time.UTC)
	return first.AddDate(0, 0, (int(weekday)-int(first.Weekday())+7)%7+7*(nth-1))
}
