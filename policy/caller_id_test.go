package policy

import (
	"context"
	"testing"
	"time"
)

func TestCallerID(t *testing.T) {
	for caller, class := range map[string]string{"": "missing", "Anonymous": "anonymous", "restricted": "anonymous",
		"12345": "invalid", "+12025550100": "valid", "+442079460000": "valid"} {
		c := call("+12125550143")
		c.Caller = caller
		matched, trace := evalOne(t, "", "      caller_id: [missing, anonymous, invalid]\n", c, nil)
		if trace[0].Value != class || matched != (class != "valid") {
			t.Errorf("%q: %v %+v; want class %s", caller, matched, trace, class)
		}
	}
	if got, want := parseErr("", "      caller_id: [blocked]\n"), `p.yaml:4:19: caller_id: "blocked" is not missing, anonymous or invalid`; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}

func TestDialModeAndPrerecorded(t *testing.T) {
	c := call("+12125550143")
	c.Prerecorded = true
	if matched, trace := evalOne(t, "", "      dial_mode: automated\n      prerecorded: true\n", c, nil); !matched ||
		trace[0].Value != "automated" || trace[1].Value != "true" {
		t.Errorf("automated prerecorded: %v %+v", matched, trace)
	}
	c.Automated = false
	if matched, trace := evalOne(t, "", "      dial_mode: automated\n", c, nil); matched || trace[0].Value != "manual" {
		t.Errorf("manual: %v %+v", matched, trace)
	}
	if matched, _ := evalOne(t, "", "      prerecorded: false\n", c, nil); matched {
		t.Error("prerecorded: false held for a prerecorded call")
	}
	for match, want := range map[string]string{
		"      dial_mode: robot\n":  "p.yaml:4:18: dial_mode: want automated or manual",
		"      prerecorded: yes!\n": "p.yaml:4:20: prerecorded: want true or false",
	} {
		if got := parseErr("", match); got != want {
			t.Errorf("got %s; want %s", got, want)
		}
	}
}

func TestCampaignDialerSellerSets(t *testing.T) {
	c := call("+12125550143")
	c.Campaign, c.Seller = "spring", "acme"
	cases := []struct {
		match string
		holds bool
	}{
		{"      campaign: [spring, fall]\n", true},
		{"      campaign: {not_in: [spring]}\n", false},
		{"      seller: {not_in: [globex]}\n", true},
		{"      seller: [globex]\n", false},
		{"      dialer: [predictive]\n", true},
	}
	for _, tc := range cases {
		if matched, _ := evalOne(t, "", tc.match, c, nil); matched != tc.holds {
			t.Errorf("%s: %v; want %v", tc.match, matched, tc.holds)
		}
	}
	c.Campaign = ""
	if matched, trace := evalOne(t, "", "      campaign: {not_in: [spring]}\n", c, nil); !matched || trace[0].Value != "" {
		t.Errorf("no campaign is in no set: %v %+v", matched, trace)
	}
	if got, want := parseErr("", "      seller: {in: [acme]}\n"), "p.yaml:4:16: seller: want a list of names, or not_in: [names]"; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}

func TestState(t *testing.T) {
	for to, want := range map[string]bool{"+13055550143": true, "+14055550143": false, "+18005550143": false} {
		if matched, _ := evalOne(t, "", "      state: [FL, TX]\n", call(to), nil); matched != want {
			t.Errorf("%s: %v; want %v", to, matched, want)
		}
	}
	if got, want := parseErr("", "      state: [Florida]\n"), `p.yaml:4:15: state: "Florida" is not a two-letter postal code such as FL`; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}

func TestStale(t *testing.T) {
	reg := newMemRegistry(nil)
	pre := "lists: {ftc: national}\n"
	match := "      stale: {list: ftc, older_than: 31d}\n"
	c := call("+12125550143")
	if matched, trace := evalOne(t, pre, match, c, reg); !matched || trace[0].Value != "ftc never imported" {
		t.Errorf("missing list: %v %+v", matched, trace)
	}
	reg.setList("ftc", c.Time.Add(-31*24*time.Hour))
	if matched, trace := evalOne(t, pre, match, c, reg); matched || trace[0].Count != 31 || trace[0].Version == 0 {
		t.Errorf("31 days: %v %+v", matched, trace)
	}
	reg.setList("ftc", c.Time.Add(-31*24*time.Hour-time.Minute))
	if matched, _ := evalOne(t, pre, match, c, reg); !matched {
		t.Error("a list older than 31 days is not stale")
	}
	if got, want := parseErr(pre, "      stale: {list: ftc}\n"), "p.yaml:5:14: stale: want both list and older_than, e.g. {list: ftc, older_than: 31d}"; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}

func TestMonitorRuleLogsAndLetsLaterRulesDecide(t *testing.T) {
	src := "lists: {internal: x}\nrules:\n" +
		"  - name: trial-sunday\n    match:\n      dial_mode: automated\n    action: reject\n    monitor: true\n" +
		"  - name: internal-dnc\n    match:\n      listed: [internal]\n    action: reject\n"
	e := mustParse(t, src, newMemRegistry(map[string][]string{"internal": {"+12125550101"}}))
	d := e.Decide(context.Background(), call("+12125550143"))
	if d.Action != Reject || d.Rule != "trial-sunday" || !d.Monitor || !d.Forward() || !d.Trace[0].Monitor || len(d.Trace) != 2 {
		t.Errorf("monitored match: %+v; want a forwarded would-be reject after consulting both rules", d)
	}
	d = e.Decide(context.Background(), call("+12125550101"))
	if d.Rule != "internal-dnc" || d.Monitor || d.Forward() {
		t.Errorf("listed number: %+v; want the enforced reject", d)
	}
}

func TestOnErrorFailModes(t *testing.T) {
	reg := newMemRegistry(nil)
	reg.err = context.DeadlineExceeded
	src := "on_error: {automated: allow, manual: reject, retry_after: 5}\nlists: {internal: x}\nrules:\n  - name: r\n    match:\n      listed: [internal]\n    action: reject\n"
	e := mustParse(t, src, reg)
	c := call("+12125550143")
	if d := e.Decide(context.Background(), c); d.Action != Allow || d.Rule != "registry-error" || d.Error == "" {
		t.Errorf("automated, fail open: %+v", d)
	}
	c.Automated = false
	if d := e.Decide(context.Background(), c); d.Action != Reject || d.Status != 503 || d.RetryAfter != 5 {
		t.Errorf("manual, fail closed: %+v", d)
	}
}
