package registry

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Abandonment accounting keeps, per campaign, the calls a person answered
// and how many of them were abandoned, per accounting period, for the
// 3 % safe harbor of 16 CFR 310.4(b)(4)(i) ("per campaign over a 30-day
// period") and 47 CFR 64.1200(a)(7). The registry counts; what counts as
// live-answered or abandoned, and what a rate means, is the caller's.
//
// Periods are cut from the campaign's start, the answer time of the first
// live-answered call counted: period k is [start + k×30d, start + (k+1)×30d),
// 30 days of 24 hours, whatever the calendar or time zone. A campaign that
// lives less than 30 days thus has one period, its life; a longer one has
// each successive 30-day period. A call answered before the start (it ended,
// and was counted, after a later-answered call) counts in period 0.
//
//	aban/CAMPAIGN 0x00               -> the start, unix nanoseconds (8 bytes big endian)
//	aban/CAMPAIGN 0x00 PERIOD(4)     -> live-answered, abandoned, safe-harbor plays (8 bytes big endian each)
//
// The NUL after the campaign keeps one campaign's keys apart from a longer
// campaign's, so a campaign holds no NUL. The counts are read, added to and
// written under Store.abandonMu: the store runs without conflict detection,
// and Badger lets one process at a time open the directory, so every
// increment lands, none twice.
const abandonmentPrefix = "aban/"

// AbandonmentPeriodLength is the length of an accounting period: 30 days
// (16 CFR 310.4(b)(4)(i)).
const AbandonmentPeriodLength = 30 * 24 * time.Hour

// AnsweredCall is one live-answered call to count: a call a person
// answered (not a machine, not an unanswered one).
type AnsweredCall struct {
	Campaign string
	// Answered is when the call was answered; it picks the period.
	Answered time.Time
	// Abandoned: no live agent came on within 2 seconds of the greeting
	// (16 CFR 310.4(b)(1)(iv)); SafeHarbor: an abandoned call on which the
	// campaign's recorded message played (310.4(b)(4)(iii)).
	Abandoned, SafeHarbor bool
}

// AbandonmentPeriod is a campaign's count over one accounting period.
type AbandonmentPeriod struct {
	Campaign string `json:"campaign"`
	// Index numbers the periods from 0, the one that begins at the
	// campaign's first live-answered call.
	Index int `json:"index"`
	// Start and End bound the period: Start <= answer time < End. Both are
	// zero when the campaign had no live-answered call yet.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// LiveAnswered counts the calls a person answered, Abandoned those of
	// them abandoned, SafeHarbor the abandoned ones that played the
	// campaign's recorded message.
	LiveAnswered int64 `json:"live_answered"`
	Abandoned    int64 `json:"abandoned"`
	SafeHarbor   int64 `json:"safe_harbor"`
}

// Rate is Abandoned over LiveAnswered, from 0 to 1; 0 with no live-answered call.
func (p AbandonmentPeriod) Rate() float64 {
	if p.LiveAnswered == 0 {
		return 0
	}
	return float64(p.Abandoned) / float64(p.LiveAnswered)
}

// CountAnsweredCall adds a live-answered call to its campaign's period.
// The first call counted for a campaign starts its periods.
func (s *Store) CountAnsweredCall(c AnsweredCall) error {
	if strings.ContainsRune(c.Campaign, 0) {
		return fmt.Errorf("campaign %q holds a NUL byte", c.Campaign)
	}
	if c.Answered.IsZero() {
		return errors.New("an answered call needs its answer time")
	}
	s.abandonMu.Lock()
	defer s.abandonMu.Unlock()
	var counted func() // once committed: the cache holds what the store does
	err := s.db.Update(func(txn *badger.Txn) error {
		startKey := campaignStartKey(c.Campaign)
		start, err := campaignStart(txn, startKey)
		if err != nil {
			return err
		}
		if start.IsZero() {
			start = c.Answered
			if err := txn.Set(startKey, binary.BigEndian.AppendUint64(nil, uint64(start.UnixNano()))); err != nil {
				return err
			}
		}
		key := periodKey(startKey, periodIndex(start, c.Answered))
		p, err := periodCounts(txn, key)
		if err != nil {
			return err
		}
		p.add(c)
		value := binary.BigEndian.AppendUint64(nil, uint64(p.LiveAnswered))
		value = binary.BigEndian.AppendUint64(value, uint64(p.Abandoned))
		if err := txn.Set(key, binary.BigEndian.AppendUint64(value, uint64(p.SafeHarbor))); err != nil {
			return err
		}
		counted = func() { s.abandoned.put(c.Campaign, start, periodIndex(start, c.Answered), p) }
		return nil
	})
	if err == nil {
		counted()
	}
	return err
}

// add counts c in p.
func (p *AbandonmentPeriod) add(c AnsweredCall) {
	p.LiveAnswered++
	if c.Abandoned {
		p.Abandoned++
	}
	if c.SafeHarbor {
		p.SafeHarbor++
	}
}

// TallyAnsweredCalls counts calls, in the order given, into their
// campaigns' periods in memory, as CountAnsweredCall counts them into the
// store (the first call of a campaign starts its periods), and returns the
// periods in the order of AbandonmentPeriods: to check the stored counts
// against another record of the same calls, such as the audit log's.
func TallyAnsweredCalls(calls []AnsweredCall) []AbandonmentPeriod {
	type key struct {
		campaign string
		index    int
	}
	starts := map[string]time.Time{}
	periods := map[key]*AbandonmentPeriod{}
	for _, c := range calls {
		start, ok := starts[c.Campaign]
		if !ok {
			start = c.Answered
			starts[c.Campaign] = start
		}
		k := key{c.Campaign, periodIndex(start, c.Answered)}
		p := periods[k]
		if p == nil {
			p = &AbandonmentPeriod{Campaign: c.Campaign, Index: k.index}
			p.Start, p.End = periodBounds(start, k.index)
			periods[k] = p
		}
		p.add(c)
	}
	out := make([]AbandonmentPeriod, 0, len(periods))
	for _, p := range periods {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b AbandonmentPeriod) int {
		return cmp.Or(strings.Compare(a.Campaign, b.Campaign), cmp.Compare(a.Index, b.Index))
	})
	return out
}

// Abandonment returns the campaign's period that time at falls in, with
// its counts so far: zero counts for a period nobody was answered in yet,
// and a zero period (no Start) for a campaign never counted.
//
// Every decision under a policy with abandonment_rate asks it, so the
// answers are kept in memory (abandonmentCache): a period asked again is
// answered without a Badger transaction and without allocating.
func (s *Store) Abandonment(campaign string, at time.Time) (AbandonmentPeriod, error) {
	if p, ok := s.abandoned.get(campaign, at); ok {
		return p, nil
	}
	// Under abandonMu no count lands between the read and the cache's fill.
	s.abandonMu.Lock()
	defer s.abandonMu.Unlock()
	p := AbandonmentPeriod{Campaign: campaign}
	var start time.Time
	err := s.db.View(func(txn *badger.Txn) error {
		startKey := campaignStartKey(campaign)
		var err error
		start, err = campaignStart(txn, startKey)
		if err != nil || start.IsZero() {
			return err
		}
		p.Index = periodIndex(start, at)
		p.Start, p.End = periodBounds(start, p.Index)
		counts, err := periodCounts(txn, periodKey(startKey, p.Index))
		p.LiveAnswered, p.Abandoned, p.SafeHarbor = counts.LiveAnswered, counts.Abandoned, counts.SafeHarbor
		return err
	})
	if err == nil {
		s.abandoned.put(campaign, start, p.Index, p)
	}
	return p, err
}

// abandonmentCache holds what the store holds of the campaigns asked or
// counted since it opened: each one's start (zero: none counted yet) and
// the counts of its periods asked or counted. It is filled and changed
// only under Store.abandonMu, after the store; it is read without that lock.
type abandonmentCache struct {
	mu        sync.RWMutex
	campaigns map[string]*campaignCounts
}

type campaignCounts struct {
	start   time.Time
	periods map[int]AbandonmentPeriod
}

// maxCachedCampaigns bounds the cache: a campaign id is the dialer's to
// choose, and one beyond it is read from Badger each time.
const maxCachedCampaigns = 1 << 16

func (c *abandonmentCache) get(campaign string, at time.Time) (AbandonmentPeriod, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cc, ok := c.campaigns[campaign]
	if !ok {
		return AbandonmentPeriod{}, false
	}
	if cc.start.IsZero() {
		return AbandonmentPeriod{Campaign: campaign}, true
	}
	p, ok := cc.periods[periodIndex(cc.start, at)]
	return p, ok
}

// put records a campaign's start and, when it has one, a period's counts.
func (c *abandonmentCache) put(campaign string, start time.Time, index int, p AbandonmentPeriod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.campaigns == nil {
		c.campaigns = map[string]*campaignCounts{}
	}
	cc, ok := c.campaigns[campaign]
	if !ok {
		if len(c.campaigns) >= maxCachedCampaigns {
			return
		}
		cc = &campaignCounts{}
		c.campaigns[campaign] = cc
	}
	cc.start = start
	if start.IsZero() {
		return
	}
	if cc.periods == nil {
		cc.periods = map[int]AbandonmentPeriod{}
	}
	p.Campaign, p.Index = campaign, index
	p.Start, p.End = periodBounds(start, index)
	cc.periods[index] = p
}

// AbandonmentPeriods returns every period of every campaign that has a
// live-answered call, by campaign and then period; a period nobody was
// answered in is left out.
func (s *Store) AbandonmentPeriods() ([]AbandonmentPeriod, error) {
	var out []AbandonmentPeriod
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(abandonmentPrefix)})
		defer it.Close()
		var start time.Time
		for it.Rewind(); it.Valid(); it.Next() {
			key := it.Item().Key()
			nul := strings.IndexByte(string(key), 0)
			if nul < 0 {
				return fmt.Errorf("abandonment key %q is corrupt", key)
			}
			campaign, rest := string(key[len(abandonmentPrefix):nul]), key[nul+1:]
			if len(rest) == 0 { // the campaign's start comes before its periods
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				if start, err = startOf(v); err != nil {
					return fmt.Errorf("campaign %q: %w", campaign, err)
				}
				continue
			}
			if len(rest) != 4 || start.IsZero() {
				return fmt.Errorf("abandonment key %q is corrupt", key)
			}
			p, err := periodCounts(txn, key)
			if err != nil {
				return err
			}
			p.Campaign, p.Index = campaign, int(binary.BigEndian.Uint32(rest))
			p.Start, p.End = periodBounds(start, p.Index)
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

func campaignStartKey(campaign string) []byte {
	return append([]byte(abandonmentPrefix+campaign), 0)
}

func periodKey(startKey []byte, index int) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), startKey...), uint32(index))
}

// periodIndex is the period of start's campaign that at falls in; 0 before start.
func periodIndex(start, at time.Time) int {
	if !at.After(start) {
		return 0
	}
	return int(at.Sub(start) / AbandonmentPeriodLength)
}

func periodBounds(start time.Time, index int) (from, to time.Time) {
	from = start.Add(time.Duration(index) * AbandonmentPeriodLength)
	return from, from.Add(AbandonmentPeriodLength)
}

// campaignStart reads a campaign's start; zero when it has none.
func campaignStart(txn *badger.Txn, key []byte) (time.Time, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return time.Time{}, err
	}
	return startOf(v)
}

func startOf(v []byte) (time.Time, error) {
	if len(v) != 8 {
		return time.Time{}, errors.New("stored campaign start is corrupt")
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(), nil
}

// periodCounts reads a period's counts; zero when it has none.
func periodCounts(txn *badger.Txn, key []byte) (AbandonmentPeriod, error) {
	var p AbandonmentPeriod
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	err = item.Value(func(v []byte) error {
		if len(v) != 24 {
			return fmt.Errorf("abandonment counts %q are corrupt", key)
		}
		p.LiveAnswered = int64(binary.BigEndian.Uint64(v))
		p.Abandoned = int64(binary.BigEndian.Uint64(v[8:]))
		p.SafeHarbor = int64(binary.BigEndian.Uint64(v[16:]))
		return nil
	})
	return p, err
}
