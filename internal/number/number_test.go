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
	for _, in := range []string{"", "abc", "555", "+1202555014", "1025550143", "2021550143", "+120255501439", "20255501x3", "555-0143", "5550143",
		"4115550100", "+19115550100", "2029115550", "2905550100", "3705550100", "9695550100"} {
		if got, err := Normalize(in, "US"); !errors.Is(err, ErrInvalid) {
			t.Errorf("Normalize(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
	// Every region of country code 1 checks a number as the NANP does (a
	// fuzzing find: American Samoa's took 1000000000 as +11000000000).
	if got, err := Normalize("684 633 4116", "AS"); err != nil || got != "+16846334116" {
		t.Errorf("Normalize(684 633 4116, AS) = %q, %v", got, err)
	}
	// Nor is a number taken whose E.164 form reads back otherwise (another find).
	if got, err := Normalize("000000", "DE"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Normalize(000000, DE) = %q, %v; want ErrInvalid", got, err)
	}
	// Nor one longer than E.164's 15 digits once the country code is added (a third).
	if got, err := Normalize("10000000000000", "DE"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Normalize(10000000000000, DE) = %q, %v; want ErrInvalid", got, err)
	}
	// A North American number dialed from abroad is checked as one (a fourth).
	if got, err := Normalize("0010000000", "AC"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Normalize(0010000000, AC) = %q, %v; want ErrInvalid", got, err)
	}
	if got, err := Normalize("00 1 202 555 0143", "DE"); err != nil || got != "+12025550143" {
		t.Errorf("Normalize(00 1 202 555 0143, DE) = %q, %v", got, err)
	}
	for _, region := range []string{"AS", "PR", "JM"} {
		if got, err := Normalize("1000000000", region); !errors.Is(err, ErrInvalid) {
			t.Errorf("Normalize(1000000000, %s) = %q, %v; want ErrInvalid", region, got, err)
		}
	}
}

// TestCheckExchange walks every NPA-NXX: exactly the codes the NANP's
// format rules leave open pass, and each refusal says which rule.
func TestCheckExchange(t *testing.T) {
	valid := 0
	for npa := uint32(0); npa <= 999; npa++ {
		for nxx := uint32(0); nxx <= 999; nxx++ {
			err := CheckExchange(npa*1000 + nxx)
			n11 := npa%100 == 11 || nxx%100 == 11
			reserved := npa/10 == 37 || npa/10 == 96 || npa/10%10 == 9
			want := npa >= 200 && nxx >= 200 && !n11 && !reserved
			if (err == nil) != want {
				t.Fatalf("CheckExchange(%03d-%03d) = %v; want valid %v", npa, nxx, err, want)
			}
			if err == nil {
				valid++
			}
		}
	}
	// 800 area codes less 8 N11, 10 37X, 10 96X and 80 N9X; 800 exchanges less 8 N11.
	if want := (800 - 8 - 10 - 10 - 80) * (800 - 8); valid != want {
		t.Errorf("%d valid exchanges; want %d", valid, want)
	}
	for exchange, reason := range map[uint32]string{
		411555: "area code 411 is an N11 service code",
		911555: "area code 911 is an N11 service code",
		202911: "exchange 911 is an N11 service code",
		290555: "area code 290 is reserved for expansion (N9X)",
		370555: "area code 370 is reserved (37X and 96X)",
		965555: "area code 965 is reserved (37X and 96X)",
		102555: "area code and exchange must start with 2-9",
	} {
		if err := CheckExchange(exchange); err == nil || err.Error() != reason {
			t.Errorf("CheckExchange(%d) = %v; want %q", exchange, err, reason)
		}
	}
	for _, exchange := range []uint32{202555, 800555, 876555, 416555, 212200} {
		if err := CheckExchange(exchange); err != nil {
			t.Errorf("CheckExchange(%d) = %v; want valid", exchange, err)
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
