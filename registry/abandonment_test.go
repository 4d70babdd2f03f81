package registry

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestAbandonmentCountsAreExactUnderConcurrency(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(DefaultOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	const workers, each = 16, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := w*each + i
				call := AnsweredCall{Campaign: []string{"spring", "fall"}[n%2], Answered: start.Add(time.Duration(n) * time.Second),
					Abandoned: n%10 == 0, SafeHarbor: n%20 == 0}
				if err := s.CountAnsweredCall(call); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(DefaultOptions(dir)); err != nil { // the counts survive a restart
		t.Fatal(err)
	}
	defer s.Close()
	// 800 calls, 400 per campaign; n%10 == 0 (n even) is 40 abandoned in
	// "spring" (the even n), 0 in "fall"; n%20 == 0 is 40 safe-harbor plays.
	periods, err := s.AbandonmentPeriods()
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(periods)
	if len(periods) != 2 {
		t.Fatalf("periods %s; want one per campaign", got)
	}
	for _, p := range periods {
		want := AbandonmentPeriod{Campaign: p.Campaign, LiveAnswered: 400}
		if p.Campaign == "spring" {
			want.Abandoned, want.SafeHarbor = 80, 40
		}
		if p.LiveAnswered != want.LiveAnswered || p.Abandoned != want.Abandoned || p.SafeHarbor != want.SafeHarbor || p.Index != 0 {
			t.Errorf("%s: %+v; want %d live, %d abandoned, %d safe-harbor", p.Campaign, p, want.LiveAnswered, want.Abandoned, want.SafeHarbor)
		}
	}
}

func TestAbandonmentPeriodsRollOverEvery30DaysFromTheFirstCall(t *testing.T) {
	s, err := Open(DefaultOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	day := 24 * time.Hour
	var calls []AnsweredCall
	count := func(at time.Time, abandoned bool) {
		t.Helper()
		calls = append(calls, AnsweredCall{Campaign: "c", Answered: at, Abandoned: abandoned})
		if err := s.CountAnsweredCall(calls[len(calls)-1]); err != nil {
			t.Fatal(err)
		}
	}
	count(start, false)                             // starts period 0
	count(start.Add(-time.Minute), true)            // answered before the start, counted after it: period 0
	count(start.Add(30*day-time.Nanosecond), false) // the last instant of period 0
	count(start.Add(30*day), true)                  // the first of period 1
	count(start.Add(95*day), true)                  // period 3; period 2 has no call
	if p, err := s.Abandonment("c", start.Add(10*day)); err != nil || p.Index != 0 || p.LiveAnswered != 3 || p.Abandoned != 1 ||
		!p.Start.Equal(start) || !p.End.Equal(start.Add(30*day)) {
		t.Errorf("period of day 10: %+v, %v", p, err)
	}
	if p, err := s.Abandonment("c", start.Add(70*day)); err != nil || p.Index != 2 || p.LiveAnswered != 0 || !p.Start.Equal(start.Add(60*day)) {
		t.Errorf("period of day 70 (no calls): %+v, %v", p, err)
	}
	if p, err := s.Abandonment("other", start); err != nil || !p.Start.IsZero() || p.LiveAnswered != 0 {
		t.Errorf("a campaign never counted: %+v, %v", p, err)
	}
	periods, err := s.AbandonmentPeriods()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range periods {
		got = append(got, fmt.Sprintf("%d:%s:%d/%d", p.Index, p.Start.Format("01-02"), p.Abandoned, p.LiveAnswered))
	}
	if want := "[0:03-01:1/3 1:03-31:1/1 3:05-30:1/1]"; fmt.Sprint(got) != want {
		t.Errorf("periods %v; want %s", got, want)
	}
	if r := periods[0].Rate(); r != 1.0/3 {
		t.Errorf("rate %v; want 1/3", r)
	}
	// The same calls counted in memory, as a check of the store against the audit log does.
	calls = append(calls, AnsweredCall{Campaign: "b", Answered: start.Add(40 * day)})
	tally := TallyAnsweredCalls(calls)
	if len(tally) != len(periods)+1 || tally[0].Campaign != "b" || tally[0].Index != 0 || !tally[0].Start.Equal(start.Add(40*day)) {
		t.Fatalf("tally %+v; want campaign b's period first, then %+v", tally, periods)
	}
	for i, p := range periods {
		if q := tally[i+1]; q.Campaign != p.Campaign || q.Index != p.Index || !q.Start.Equal(p.Start) || !q.End.Equal(p.End) ||
			q.LiveAnswered != p.LiveAnswered || q.Abandoned != p.Abandoned || q.SafeHarbor != p.SafeHarbor {
			t.Errorf("tally %+v; the store says %+v", q, p)
		}
	}
}

func TestAbandonmentKeepsCampaignsApart(t *testing.T) {
	s, err := Open(DefaultOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	// "a" is a prefix of "a/b" and of "ab"; "" is a campaign too (calls without X-Campaign-ID).
	for _, c := range []string{"a", "a/b", "ab", "", "a"} {
		if err := s.CountAnsweredCall(AnsweredCall{Campaign: c, Answered: at}); err != nil {
			t.Fatal(err)
		}
	}
	periods, err := s.AbandonmentPeriods()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range periods {
		got = append(got, fmt.Sprintf("%q:%d", p.Campaign, p.LiveAnswered))
	}
	if want := `["":1 "a":2 "a/b":1 "ab":1]`; fmt.Sprint(got) != want {
		t.Errorf("periods %v; want %s", got, want)
	}
	if err := s.CountAnsweredCall(AnsweredCall{Campaign: "x\x00y", Answered: at}); err == nil {
		t.Error("a campaign with a NUL byte was counted")
	}
	if err := s.CountAnsweredCall(AnsweredCall{Campaign: "x"}); err == nil {
		t.Error("a call without an answer time was counted")
	}
}

// Abandonment answers from memory once a period was read or counted: the
// answer follows every count after it, agrees with what a fresh store
// reads, and allocates nothing.
func TestAbandonmentIsAnsweredFromMemory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := Open(DefaultOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	if p, err := s.Abandonment("winter", start); err != nil || !p.Start.IsZero() || p.Campaign != "winter" {
		t.Fatalf("before any call: %+v, %v", p, err)
	}
	for i, abandoned := range []bool{false, true, false} {
		if err := s.CountAnsweredCall(AnsweredCall{Campaign: "winter", Answered: start.Add(time.Duration(i) * time.Hour), Abandoned: abandoned}); err != nil {
			t.Fatal(err)
		}
		p, err := s.Abandonment("winter", start.Add(time.Duration(i)*time.Hour))
		if err != nil || p.LiveAnswered != int64(i+1) || !p.Start.Equal(start) || !p.End.Equal(start.Add(AbandonmentPeriodLength)) {
			t.Fatalf("after call %d: %+v, %v", i+1, p, err)
		}
	}
	next := start.Add(AbandonmentPeriodLength + time.Hour)
	if p, err := s.Abandonment("winter", next); err != nil || p.Index != 1 || p.LiveAnswered != 0 || !p.Start.Equal(start.Add(AbandonmentPeriodLength)) {
		t.Fatalf("the next period: %+v, %v", p, err)
	}
	if err := s.CountAnsweredCall(AnsweredCall{Campaign: "winter", Answered: next, Abandoned: true}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Abandonment("winter", next); p.LiveAnswered != 1 || p.Abandoned != 1 {
		t.Fatalf("the next period after a call: %+v", p)
	}
	if p, _ := s.Abandonment("winter", start); p.LiveAnswered != 3 || p.Abandoned != 1 || p.Index != 0 {
		t.Fatalf("the first period again: %+v", p)
	}
	if n := testing.AllocsPerRun(100, func() { s.Abandonment("winter", start) }); n != 0 {
		t.Errorf("a period read again allocates %v times", n)
	}
	// A fresh store reads what the first one counted.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(DefaultOptions(dir)); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Abandonment("winter", start); p.LiveAnswered != 3 || p.Abandoned != 1 {
		t.Fatalf("after a restart: %+v", p)
	}
}
