package formats

import (
	"strings"
	"testing"
)

// A byte-order mark is read past whatever format is given; UTF-16 is refused.
func TestByteOrderMarkWithEveryFormat(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		text string
	}{
		{Options{Format: FTC}, "\ufeff2025550143\n"},
		{Options{Format: Plain}, "\ufeff+12025550143\n"},
		{Options{Format: FTCChanges}, "\ufeff2025550143,A\n"},
		{Options{Format: CSV, Column: "Phone"}, "\ufeffPhone\n2025550143\n"},
	} {
		var got []Record
		_, err := Read(strings.NewReader(tc.text), "f", tc.opts, Sink{Record: func(r Record) error { got = append(got, r); return nil }})
		if err != nil || len(got) != 1 || got[0].Exchange != 202555 || got[0].Line != 143 {
			t.Errorf("%s: %+v, %v", tc.opts.Format, got, err)
		}
	}
	err := ReadPlain(strings.NewReader("\xfe\xff\x002"), "f", Plain, Sink{Record: func(Record) error { return nil }})
	if err == nil || !strings.HasPrefix(err.Error(), "f:1: the file is UTF-16") {
		t.Errorf("UTF-16 big-endian: %v", err)
	}
}
