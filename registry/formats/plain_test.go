package formats

import (
	"errors"
	"strings"
	"testing"
)

func TestParseNumberAcceptsEveryForm(t *testing.T) {
	want := Number{Exchange: 202555, Line: 143}
	for _, line := range []string{"2025550143", "202,5550143", "12025550143", "+12025550143", "+1-202-555-0143"} {
		got, err := ParseNumber([]byte(line))
		if err != nil || got != want {
			t.Errorf("ParseNumber(%q) = %+v, %v; want %+v", line, got, err, want)
		}
	}
	for _, line := range []string{"9899999999", "989,9999999", "19899999999", "+19899999999"} {
		got, err := ParseNumber([]byte(line))
		if err != nil || got != (Number{Exchange: 989999, Line: 9999}) {
			t.Errorf("ParseNumber(%q) = %+v, %v; want the highest exchange and line", line, got, err)
		}
	}
	got, err := ParseNumber([]byte("+44 20 7946 0958"))
	if err != nil || got != (Number{E164: "+442079460958"}) || got.IsNANP() {
		t.Errorf("non-NANP: got %+v, %v", got, err)
	}
}

func TestParseNumberRefuses(t *testing.T) {
	for line, reason := range map[string]string{
		"202555014":     "not a number in an accepted form",
		"20255501433":   "not a number in an accepted form",
		"2025550x43":    "not a number in an accepted form",
		"202;5550143":   "not a number in an accepted form",
		"1025550143":    "area code and exchange must start with 2-9",
		"2021550143":    "area code and exchange must start with 2-9",
		"202,1550143":   "area code and exchange must start with 2-9",
		"4115550100":    "area code 411 is an N11 service code",
		"2029110100":    "exchange 911 is an N11 service code",
		"12905550100":   "area code 290 is reserved for expansion (N9X)",
		"+13705550100":  "area code 370 is reserved (37X and 96X)",
		"+1202555014":   "invalid number",
		"+999":          "invalid number",
		"(202)555-0143": "not a number in an accepted form",
	} {
		if _, err := ParseNumber([]byte(line)); err == nil || !strings.Contains(err.Error(), reason) {
			t.Errorf("ParseNumber(%q) error = %v; want one saying %q", line, err, reason)
		}
	}
}

// records reads text with opts and returns what was read, or the error.
func records(t *testing.T, text string, opts Options) ([]Record, Layout, error) {
	t.Helper()
	var got []Record
	lay, err := Read(strings.NewReader(text), "f.txt", opts, Sink{Record: func(r Record) error { got = append(got, r); return nil }})
	return got, lay, err
}

func TestReadPlainSkipsCommentsAndNamesBadLines(t *testing.T) {
	var got []Record
	sink := Sink{Record: func(r Record) error { got = append(got, r); return nil }}
	in := "# opt-outs\r\n\r\n  2025550143  \r\n+442079460958\n"
	if err := ReadPlain(strings.NewReader(in), "a.txt", Plain, sink); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Number != (Number{Exchange: 202555, Line: 143}) || got[1].E164 != "+442079460958" {
		t.Fatalf("read %+v", got)
	}

	err := ReadPlain(strings.NewReader("2025550143\n# note\n20255501\n"), "b.txt", Plain, sink)
	var le *LineError
	if !errors.As(err, &le) || le.File != "b.txt" || le.Line != 3 || !strings.HasPrefix(err.Error(), `b.txt:3: "20255501" is not a number`) {
		t.Fatalf("error = %v; want b.txt:3", err)
	}

	err = ReadPlain(strings.NewReader("2025550143\n"+strings.Repeat("9", maxLineLength+1)+"\n"), "c.txt", Plain, sink)
	if err == nil || !strings.HasPrefix(err.Error(), "c.txt:2: line is longer") {
		t.Fatalf("long line error = %v; want c.txt:2", err)
	}

	stop := errors.New("stop")
	if err := ReadPlain(strings.NewReader("2025550143\n"), "d.txt", Plain, Sink{Record: func(Record) error { return stop }}); err != stop {
		t.Fatalf("callback error = %v; want it returned as is", err)
	}
}

func TestFTCFormIsStrict(t *testing.T) {
	got, _, err := records(t, "2025550143\n303,5550100\n", Options{Format: FTC})
	if err != nil || len(got) != 2 || got[1].Exchange != 303555 {
		t.Fatalf("ftc: %+v, %v", got, err)
	}
	_, _, err = records(t, "2025550143\n+12025550144\n", Options{Format: FTC})
	if err == nil || !strings.HasPrefix(err.Error(), `f.txt:2: "+12025550144" is not an FTC list line`) {
		t.Fatalf("E.164 in an FTC file: %v", err)
	}
}

// Invalid lines are handed to Sink.Invalid, which may skip them.
func TestInvalidLinesCanBeSkipped(t *testing.T) {
	var bad []string
	var got []Record
	sink := Sink{
		Record:  func(r Record) error { got = append(got, r); return nil },
		Invalid: func(e *LineError) error { bad = append(bad, e.Error()); return nil },
	}
	text := "2025550143\nnonsense\n2025550144\n202555014\n"
	if err := ReadPlain(strings.NewReader(text), "a.txt", Plain, sink); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(bad) != 2 || !strings.HasPrefix(bad[0], "a.txt:2: ") || !strings.HasPrefix(bad[1], "a.txt:4: ") {
		t.Fatalf("records %d, invalid %q", len(got), bad)
	}
}

func BenchmarkReadPlain(b *testing.B) {
	var sb strings.Builder
	for i := range 100_000 {
		sb.WriteString("202555")
		sb.WriteString(string(rune('0' + i%10)))
		sb.WriteString("143\n")
	}
	text := sb.String()
	b.SetBytes(int64(len(text)))
	sink := Sink{Record: func(Record) error { return nil }}
	for b.Loop() {
		if err := ReadPlain(strings.NewReader(text), "bench", FTC, sink); err != nil {
			b.Fatal(err)
		}
	}
}
