package formats

import (
	"strings"
	"testing"
)

func TestFormatIsRecognized(t *testing.T) {
	for text, want := range map[string]Format{
		"2025550143\n2025550144\n":                   FTC,
		"202,5550143\n202,5550144\n":                 FTC,
		"# company list\n+12025550143\n2025550144\n": Plain,
		"2025550143\n+44 20 7946 0958\n":             Plain,
		"2025550143,2026-11-20,A\n":                  FTCChanges,
		"name,phone,city\nAnn,(202) 555-0143,DC\n":   CSV,
		"": Plain,
		"2025550143\n2025550144\nnonsense\n2025550145": FTC, // the bad line is reported when read
	} {
		p, err := plan([]byte(text), true, Options{})
		if err != nil || p.Format != want || !p.Detected {
			t.Errorf("%q: recognized %v, %v; want %s", text, p.Layout, err, want)
		}
	}
	_, err := plan([]byte("hello world\nfoo\n"), true, Options{})
	if err == nil || !strings.Contains(err.Error(), `line 1: "hello world" is neither a number`) || !strings.Contains(err.Error(), "--format") {
		t.Errorf("unrecognizable file: %v", err)
	}
}

func TestCSVColumn(t *testing.T) {
	text := "Name,Phone,Notes\n\"Doe, Ann\",(202) 555-0143,\"said \"\"stop\"\"\"\nBob,+44 20 7946 0958,\nEve,,\nZed,555-0143,\n"
	var bad []string
	var got []Record
	lay, err := Read(strings.NewReader(text), "crm.csv", Options{Column: "phone"}, Sink{
		Record:  func(r Record) error { got = append(got, r); return nil },
		Invalid: func(e *LineError) error { bad = append(bad, e.Error()); return nil },
	})
	if err != nil || lay.Format != CSV || lay.Detail != "column phone" {
		t.Fatalf("layout %v, %v", lay, err)
	}
	if len(got) != 2 || got[0].Number != (Number{Exchange: 202555, Line: 143}) || got[1].E164 != "+442079460958" {
		t.Errorf("read %+v", got)
	}
	if len(bad) != 2 || !strings.HasPrefix(bad[0], "crm.csv:4: column phone: empty") || !strings.HasPrefix(bad[1], "crm.csv:5: column phone:") {
		t.Errorf("invalid lines %q", bad)
	}
	_, _, err = records(t, "name,tel\nAnn,2025550143\n", Options{Column: "phone"})
	if err == nil || err.Error() != `f.txt:1: the header has no column "phone" (it has name, tel)` {
		t.Errorf("missing column: %v", err)
	}
}
