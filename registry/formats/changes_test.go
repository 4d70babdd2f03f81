package formats

import (
	"strings"
	"testing"
)

// The issue's own line, and the column orders seen in the wild, with and
// without a header, are all read the same way.
func TestChangeListColumnOrders(t *testing.T) {
	add := Record{Number: Number{Exchange: 202555, Line: 143}, Date: 20261120}
	del := Record{Number: Number{Exchange: 303555, Line: 100}, Delete: true, Date: 20261121}
	for name, text := range map[string]string{
		"number,date,flag":          "2025550143,2026-11-20,A\n3035550100,2026-11-21,D\n",
		"flag,number,date":          "A,2025550143,2026-11-20\nD,3035550100,2026-11-21\n",
		"date,flag,number":          "11/20/2026,ADD,2025550143\n11/21/2026,DELETE,3035550100\n",
		"area code split":           "202,5550143,20261120,A\n303,5550100,20261121,D\n",
		"header, other order":       "Action,Change Date,Phone Number\nA,2026-11-20,2025550143\nD,2026-11-21,3035550100\n",
		"header with area code":     "AreaCode|PhoneNumber|Flag|Date\n202|5550143|a|2026-11-20\n303|5550100|d|2026-11-21\n",
		"quoted, spaced, with time": "\"2025550143\", \"2026-11-20 08:00:00\", \"A\"\n\"3035550100\", \"2026-11-21 09:30:00\", \"D\"\n",
	} {
		got, lay, err := records(t, text, Options{})
		if err != nil || lay.Format != FTCChanges || !lay.Detected {
			t.Errorf("%s: layout %v, err %v", name, lay, err)
			continue
		}
		if len(got) != 2 || got[0] != add || got[1] != del {
			t.Errorf("%s: read %+v", name, got)
		}
	}
}

func TestChangeListWithoutDate(t *testing.T) {
	got, lay, err := records(t, "2025550143,A\n", Options{})
	if err != nil || lay.Format != FTCChanges || len(got) != 1 || got[0].Date != 0 || got[0].Delete {
		t.Fatalf("got %+v, %v, %v", got, lay, err)
	}
}

// Columns that cannot be told apart are refused, never guessed.
func TestChangeListAmbiguousColumnsAreRefused(t *testing.T) {
	for name, c := range map[string]struct{ text, want string }{
		"two numbers": {"2025550143,3035550100,A\n", "2 columns look like telephone numbers"},
		"two dates":   {"2025550143,2026-11-20,2026-11-21,A\n", "columns 2 and 3 both look like dates"},
		"two flags":   {"2025550143,A,D\n", "2 columns look like add/delete flags"},
		"header dup":  {"phone,number,flag\n2025550143,2025550143,A\n", "both name the number"},
	} {
		_, _, err := records(t, c.text, Options{Format: FTCChanges})
		if err == nil || !strings.Contains(err.Error(), "cannot tell the columns") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want one saying %q", name, err, c.want)
		}
	}
}

func TestChangeListBadLines(t *testing.T) {
	text := "2025550143,2026-11-20,A\n2025550144,2026-11-20,X\n2025550145,2026-02-30,D\n2025550146,A\n" +
		"2025550147,2026-11-20,A\n2025550148,2026-11-20,A\n2025550149,2026-11-20,D\n"
	var bad []string
	var got []Record
	_, err := Read(strings.NewReader(text), "c.txt", Options{}, Sink{
		Record:  func(r Record) error { got = append(got, r); return nil },
		Invalid: func(e *LineError) error { bad = append(bad, e.Error()); return nil },
	})
	want := []string{
		`c.txt:2: flag "X" is neither A (add) nor D (delete)`,
		`c.txt:3: "2026-02-30" is not a valid date`,
		`c.txt:4: 2 fields, want 3`,
	}
	if err != nil || len(got) != 4 || strings.Join(bad, "\n") != strings.Join(want, "\n") {
		t.Fatalf("err %v, read %d, invalid:\n%s", err, len(got), strings.Join(bad, "\n"))
	}
}
