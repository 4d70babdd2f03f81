package policy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
	"github.com/gatekeeper-sip/gatekeeper/internal/yamlx"
)

// A policy test file holds cases for one policy file: the facts of a call,
// its time, the registry as it stands, and the decision expected. Cases run
// offline, each against its own in-memory registry:
//
//	policy: policy.yaml              # relative to this file
//	defaults:                        # merged under every case
//	  call: {from: "2025550100"}
//	  lists:
//	    ftc: {age: 1d}               # imported a day before the call, holding no number
//	cases:
//	  - name: florida-evening
//	    call: {to: "3055550143", at: "2026-03-04T20:30:00-05:00"}
//	    want: {decision: reject, rule: state-hours, status: 480}
//	  - name: fourth-call-in-a-day
//	    call: {to: "3055550143", at: "2026-03-04T12:00:00-05:00"}
//	    earlier: [1h, 2h, 3h]        # the same call forwarded that long before
//	    want: {decision: reject, rule: state-frequency}
//
// call: to, from, at (RFC 3339), campaign, dialer, seller, rn, manual,
// prerecorded. lists: NAME: {numbers: [...], age: 40d | as_of: DATE,
// imported: false}. want: decision (allow | reject), rule, status, monitor.
// The called number's other data (policytest_data.go): line_type, ported,
// consents, rnd, exemptions; defaults: line_type.
type testFile struct {
	Policy   string       `yaml:"policy"`
	Defaults testDefaults `yaml:"defaults"`
	Cases    []testCase   `yaml:"cases"`
}

type testDefaults struct {
	Call  testCall             `yaml:"call"`
	Lists map[string]*testList `yaml:"lists"`
	// LineType is the line type of every number a case does not give one (default unknown).
	LineType string `yaml:"line_type"`
}

type testCall struct {
	To          *string `yaml:"to"`
	From        *string `yaml:"from"`
	At          *string `yaml:"at"`
	Campaign    *string `yaml:"campaign"`
	Dialer      *string `yaml:"dialer"`
	Seller      *string `yaml:"seller"`
	RN          *string `yaml:"rn"`
	Manual      *bool   `yaml:"manual"`
	Prerecorded *bool   `yaml:"prerecorded"`
}

type testList struct {
	Numbers  []string `yaml:"numbers"`
	Age      string   `yaml:"age"`
	AsOf     string   `yaml:"as_of"`
	Imported *bool    `yaml:"imported"`
}

type testCase struct {
	line    int
	Name    string               `yaml:"name"`
	Call    testCall             `yaml:"call"`
	Lists   map[string]*testList `yaml:"lists"`
	Earlier []string             `yaml:"earlier"`
	Data    testData             `yaml:",inline"` // line type, consents, RND answers, exemptions (policytest_data.go)
	Want    struct {
		Decision string `yaml:"decision"`
		Rule     string `yaml:"rule"`
		Status   int    `yaml:"status"`
		Monitor  bool   `yaml:"monitor"`
	} `yaml:"want"`
}

func (tc *testCase) UnmarshalYAML(node ast.Node) error {
	type plain testCase // without this method
	if err := yaml.NodeToValue(node, (*plain)(tc), yaml.DisallowUnknownField()); err != nil {
		return err
	}
	tc.line = node.GetToken().Position.Line
	return nil
}

// TestResult is the outcome of one case.
type TestResult struct {
	Name string
	// Place is FILE:LINE of the case.
	Place string
	// Failure says how the decision differed from the one expected; "" when the case passed.
	Failure  string
	Decision Decision
}

// RunTestFile runs every case of the policy test file at path against the
// policy file it names. The error is for files that cannot be read or
// parsed (FILE:LINE:COLUMN); failing cases are in the results.
func RunTestFile(path string) (policyPath string, results []TestResult, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	var f testFile
	if err := yamlx.Decode(path, data, &f); err != nil {
		return "", nil, err
	}
	if f.Policy == "" {
		return "", nil, &yamlx.Error{File: path, Msg: "policy: name the policy file the cases test"}
	}
	policyPath = filepath.Join(filepath.Dir(path), f.Policy)
	policyText, err := os.ReadFile(policyPath)
	if err != nil {
		return policyPath, nil, err
	}
	for _, tc := range f.Cases {
		where := fmt.Sprintf("%s:%d", path, tc.line)
		d, failure, err := runCase(policyPath, policyText, &f.Defaults, &tc)
		if err != nil {
			return policyPath, nil, fmt.Errorf("%s: case %q: %w", where, tc.Name, err)
		}
		results = append(results, TestResult{Name: tc.Name, Place: where, Failure: failure, Decision: d})
	}
	return policyPath, results, nil
}

func runCase(policyPath string, policyText []byte, defaults *testDefaults, tc *testCase) (Decision, string, error) {
	reg := newMemoryRegistry()
	engine, err := Parse(policyPath, policyText, reg)
	if err != nil {
		return Decision{}, "", err
	}
	c, err := tc.Call.over(&defaults.Call).call()
	if err != nil {
		return Decision{}, "", err
	}
	lists := map[string]*testList{}
	for name, l := range defaults.Lists {
		lists[name] = l
	}
	for name, l := range tc.Lists {
		lists[name] = l
	}
	for name, l := range lists {
		if l == nil || l.Imported != nil && !*l.Imported {
			continue
		}
		asOf, err := l.date(c.Time)
		if err != nil {
			return Decision{}, "", fmt.Errorf("list %s: %w", name, err)
		}
		numbers := make([]string, len(l.Numbers))
		for i, raw := range l.Numbers {
			if numbers[i], err = number.Normalize(raw, "US"); err != nil {
				return Decision{}, "", fmt.Errorf("list %s: %w", name, err)
			}
		}
		reg.setList(name, asOf, numbers...)
	}
	if err := tc.Data.load(reg, defaults, c); err != nil {
		return Decision{}, "", err
	}
	for _, ago := range tc.Earlier {
		d, err := time.ParseDuration(ago)
		if err != nil {
			return Decision{}, "", fmt.Errorf("earlier: %q is not a duration such as 2h", ago)
		}
		before := c
		before.Time = c.Time.Add(-d)
		if err := engine.Forwarded(context.Background(), before); err != nil {
			return Decision{}, "", err
		}
	}
	d := engine.Decide(context.Background(), c)
	return d, tc.mismatch(d), nil
}

// mismatch says how d differs from the expected decision, or "".
func (tc *testCase) mismatch(d Decision) string {
	w := tc.Want
	got := fmt.Sprintf("%s by %s", d.Action, d.Rule)
	if d.Status != 0 {
		got = fmt.Sprintf("%s %d by %s", d.Action, d.Status, d.Rule)
	}
	if d.Monitor {
		got += " (monitor)"
	}
	switch {
	case w.Decision != "" && string(d.Action) != w.Decision,
		w.Rule != "" && d.Rule != w.Rule,
		w.Status != 0 && d.Status != w.Status,
		w.Monitor != d.Monitor:
		want := w.Decision
		if w.Status != 0 {
			want += fmt.Sprintf(" %d", w.Status)
		}
		if w.Rule != "" {
			want += " by " + w.Rule
		}
		return fmt.Sprintf("got %s; want %s", got, want)
	}
	return ""
}

// over fills the fields c leaves out from defaults.
func (c testCall) over(defaults *testCall) testCall {
	pick := func(v, d *string) *string {
		if v != nil {
			return v
		}
		return d
	}
	pickBool := func(v, d *bool) *bool {
		if v != nil {
			return v
		}
		return d
	}
	return testCall{To: pick(c.To, defaults.To), From: pick(c.From, defaults.From), At: pick(c.At, defaults.At),
		Campaign: pick(c.Campaign, defaults.Campaign), Dialer: pick(c.Dialer, defaults.Dialer),
		Seller: pick(c.Seller, defaults.Seller), RN: pick(c.RN, defaults.RN),
		Manual: pickBool(c.Manual, defaults.Manual), Prerecorded: pickBool(c.Prerecorded, defaults.Prerecorded)}
}

// call builds the facts the proxy would hand the policy, by policy.NewCall as
// the proxy and `gatekeeper check` do; the case's dialer dials automated.
func (c testCall) call() (Call, error) {
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	if c.At == nil {
		return Call{}, fmt.Errorf("call: at is missing: a case decides as of a fixed time")
	}
	at, err := time.Parse(time.RFC3339, *c.At)
	if err != nil {
		return Call{}, fmt.Errorf("call: at %q is not RFC 3339, e.g. 2026-03-04T20:30:00-05:00", *c.At)
	}
	in := CallInput{Called: str(c.To), Caller: str(c.From), RoutingNumber: str(c.RN), Campaign: str(c.Campaign),
		Seller: str(c.Seller), Dialer: Dialer{Name: str(c.Dialer), Automated: true}, Region: "US", Time: at}
	if c.Manual != nil && *c.Manual {
		in.DialMode = "manual"
	}
	if c.Prerecorded != nil && *c.Prerecorded {
		in.Prerecorded = "yes"
	}
	return NewCall(in), nil
}

// date is when the list's data is as of: as_of, or age before the call.
func (l *testList) date(callTime time.Time) (time.Time, error) {
	switch {
	case l.AsOf != "":
		return time.Parse(time.DateOnly, l.AsOf)
	case l.Age != "":
		age, err := period(&ast.StringNode{Value: l.Age}, "age")
		if err != nil {
			return time.Time{}, fmt.Errorf("age %q is not a length of time such as 40d", l.Age)
		}
		return callTime.Add(-age), nil
	}
	return callTime.Add(-24 * time.Hour), nil
}
