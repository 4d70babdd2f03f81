package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
	"github.com/gatekeeper-sip/gatekeeper/registry/formats"
)

// Live changes are single numbers added to or removed from a list by hand
// (`gatekeeper dnc add|remove`, or the admin endpoint): typically a called
// person's request not to be called again. They apply at once, on top of
// whatever was imported, and stay in force across later imports with one
// exception, so that an import never silently undoes a person's request:
//
//   - an addition stays until a live removal of the same number;
//   - a removal stays until a live addition, or until an import whose data is
//     as of a later day lists the number again (a newer source then says the
//     number is listed; the removal is recorded as expired).
//
// Every change is kept in a log, by number, with who asked, when, how and
// why: the FCC wants company Do-Not-Call requests kept for five years, and
// nothing in the registry deletes them.

// Change is one live change, as recorded.
type Change struct {
	List   string    `json:"list"`
	Number string    `json:"number"` // E.164
	Action string    `json:"action"` // add, remove, or expire (a removal superseded by an import)
	At     time.Time `json:"at"`
	By     string    `json:"by"`  // who asked: the user the CLI ran as, or the admin caller's name
	Via    string    `json:"via"` // how: "cli", "admin socket (uid 1000, pid 4242)", "import 17"
	Reason string    `json:"reason,omitempty"`
	// Outcome is what the change did to the list: listed, already listed,
	// unlisted, was not listed, or listed again (expire).
	Outcome string `json:"outcome"`
}

// LiveRequest asks for live changes to one list.
type LiveRequest struct {
	List    string   `json:"list"`
	Numbers []string `json:"numbers"` // E.164
	Remove  bool     `json:"remove,omitempty"`
	Reason  string   `json:"reason,omitempty"`
	By      string   `json:"by"`
	Via     string   `json:"via"`
	// Undeclared takes a list the policy does not declare; without it the
	// admin API and the commands refuse one (the registry knows no policy).
	Undeclared bool `json:"undeclared,omitempty"`
}

// The first byte of a live/ value says what the change in force is, so that
// Open rebuilds the layer without decoding every record.
const (
	liveAdd    byte = 'a'
	liveRemove byte = 'r'
)

// maxLiveNumbers bounds one request, so that it stays one transaction.
const maxLiveNumbers = 1000

// ChangeLive adds numbers to a list or removes them from it, at once: the
// next lookup sees the change. It returns what was recorded for each number.
// A list that does not exist yet is created.
func (s *Store) ChangeLive(req LiveRequest) ([]Change, error) {
	if err := req.Check(); err != nil {
		return nil, err
	}
	nums := make([]num, len(req.Numbers))
	for i, raw := range req.Numbers {
		nums[i] = parseNum(raw)
	}

	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	cur := s.catalog.Load().lists[req.List]
	if cur == nil {
		cur = &list{rec: listRecord{Info: ListInfo{Name: req.List}}, live: newChangeSet()}
	}
	next := *cur
	next.live = cur.live.clone()
	at := time.Now().UTC()
	changes := make([]Change, len(nums))
	states := make([]byte, len(nums))
	for i, n := range nums {
		// Under publishMu the imported data cannot be switched, so cannot go away.
		imported, err := s.importedHolds(nil, cur, n)
		if err != nil {
			return nil, err
		}
		liveListed, liveDecides := next.live.decides(n)
		listed := liveListed || (!liveDecides && imported)
		c := Change{List: req.List, Number: req.Numbers[i], At: at, By: req.By, Via: req.Via, Reason: req.Reason}
		switch {
		case !req.Remove:
			c.Action, c.Outcome = "add", "listed"
			if listed {
				c.Outcome = "already listed"
			}
			next.live.set(n, true)
		case !listed:
			c.Action, c.Outcome = "remove", "was not listed"
		case imported:
			c.Action, c.Outcome = "remove", "unlisted"
			next.live.set(n, false)
		default: // listed by a live addition only
			c.Action, c.Outcome = "remove", "unlisted"
			next.live.forget(n)
		}
		changes[i], states[i] = c, liveState(next.live, n)
	}
	err := s.publish(&next, func(txn *badger.Txn) error {
		for i, c := range changes {
			if err := writeChange(txn, c, i, states[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return changes, nil
}

// Check returns an error that says why the request cannot be carried out:
// a bad list name, no numbers or too many, a number not in E.164 form, or
// no by or via.
func (req LiveRequest) Check() error {
	if err := CheckListName(req.List); err != nil {
		return err
	}
	switch {
	case len(req.Numbers) == 0:
		return errors.New("no numbers given")
	case len(req.Numbers) > maxLiveNumbers:
		return fmt.Errorf("%d numbers in one request; at most %d", len(req.Numbers), maxLiveNumbers)
	case req.By == "" || req.Via == "":
		return errors.New("a live change must say who asked (by) and how (via)")
	}
	for _, raw := range req.Numbers {
		if e164, err := number.Normalize(raw, ""); err != nil || e164 != raw {
			return fmt.Errorf("%q is not an E.164 number (+CC...)", raw)
		}
	}
	return nil
}

// liveState is what the live layer says of the number: liveAdd, liveRemove or 0.
func liveState(c *changeSet, n num) byte {
	listed, decided := c.decides(n)
	switch {
	case !decided:
		return 0
	case listed:
		return liveAdd
	}
	return liveRemove
}

// writeChange logs a change and sets the number's live entry to state (0:
// none). seq keeps changes of one instant apart in the log.
func writeChange(txn *badger.Txn, c Change, seq int, state byte) error {
	record, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := txn.Set(logKey(c.Number, c.At.UnixNano()+int64(seq)), record); err != nil {
		return err
	}
	key := liveKey(c.List, c.Number)
	if state == 0 {
		return txn.Delete(key)
	}
	return txn.Set(key, append([]byte{state}, record...))
}

// supersededRemovals finds the live removals of next's list that its new
// data overrides: made on a day before sourceDay, of a number lists says the
// new data holds. It returns them as expiry records. The caller holds publishMu.
func (s *Store) supersededRemovals(next *list, sourceDay formats.Day, lists func(num) (bool, error)) ([]Change, error) {
	if next.live.removes.IsEmpty() && len(next.live.foreignRemoves) == 0 {
		return nil, nil
	}
	var out []Change
	err := s.db.View(func(txn *badger.Txn) error {
		return iterate(txn, liveListPrefix(next.rec.Info.Name), func(item *badger.Item) error {
			return item.Value(func(v []byte) error {
				if len(v) == 0 || v[0] != liveRemove {
					return nil
				}
				var removal Change
				if err := json.Unmarshal(v[1:], &removal); err != nil {
					return fmt.Errorf("live change %q: %w", item.Key(), err)
				}
				if formats.DayOf(removal.At) >= sourceDay {
					return nil
				}
				listed, err := lists(parseNum(removal.Number))
				if err != nil || !listed {
					return err
				}
				out = append(out, Change{
					List: removal.List, Number: removal.Number, Action: "expire", At: time.Now().UTC(),
					By: "import", Via: fmt.Sprintf("import %d", next.rec.Info.Version), Outcome: "listed again",
					Reason: fmt.Sprintf("the data imported as version %d, as of %s, lists the number again after its removal on %s",
						next.rec.Info.Version, sourceDay, removal.At.Format(time.DateOnly)),
				})
				return nil
			})
		})
	})
	return out, err
}

// Report is everything the registry knows of one number.
type Report struct {
	Number   string    `json:"number"`
	Listings []Listing `json:"listings"` // the lists that hold it now
	Live     []Change  `json:"live"`     // the live changes in force for it
	History  []Change  `json:"history"`  // every live change ever made to it, oldest first
}

// Lookup tells which lists hold the E.164 number, with their versions, and
// the live changes made to it.
func (s *Store) Lookup(e164 string) (Report, error) {
	r := Report{Number: e164, Listings: []Listing{}, Live: []Change{}, History: []Change{}}
	n := parseNum(e164)
	for {
		cat := s.catalog.Load()
		r.Listings = r.Listings[:0]
		var err error
		for _, info := range cat.sorted() {
			var listed bool
			if listed, err = s.holds(cat, cat.lists[info.Name], n); err != nil {
				break
			}
			if listed {
				r.Listings = append(r.Listings, Listing{List: info.Name, Version: info.Version})
			}
		}
		if err == errMoved {
			continue
		}
		if err != nil {
			return r, err
		}
		break
	}
	err := s.db.View(func(txn *badger.Txn) error {
		for _, info := range s.catalog.Load().sorted() {
			item, err := txn.Get(liveKey(info.Name, e164))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			var c Change
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v[1:], &c) }); err != nil {
				return err
			}
			r.Live = append(r.Live, c)
		}
		return iterate(txn, logNumberPrefix(e164), func(item *badger.Item) error {
			var c Change
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &c) }); err != nil {
				return err
			}
			r.History = append(r.History, c)
			return nil
		})
	})
	return r, err
}
