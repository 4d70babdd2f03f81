package number

import (
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	good := map[string]string{
		"2025550143":          "+12025550143",
		"12025550143":         "+12025550143",
		"+12025550143":        "+12025550143",
		"+1-202-555-0143":     "+12025550143",
		"(202) 555-0143":      "+12025550143",
		"+442079460958":       "+442079460958",
		"+33 1 42 68 53 00":   "+33142685300",
		"011 44 20 7946 0958": "+442079460958",
	}
	for in, want := range good {
		got, err := Normalize(in, "US")
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "555", "+1202555014", "1025550143", "2021550143", "+120255501439", "20255501x3", "555-0143", "5550143"} {
		if got, err := Normalize(in, "US"); !errors.Is(err, ErrInvalid) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
}

func TestSplitNANP(t *testing.T) {
	x, l, ok := SplitNANP("+12025550143")
	if !ok || x != 202555 || l != 143 {
		t.Fatalf("SplitNANP = %d %d %v", x, l, ok)
	}
	if _, _, ok := SplitNANP("+442079460958"); ok {
		t.Fatal("non-NANP number split")
	}
}

func BenchmarkNormalizeNANP(b *testing.B) {
	for b.Loop() {
		Normalize("+1-202-555-0143", "US")
	}
}
