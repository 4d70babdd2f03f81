package number

import (
	"errors"
	"maps"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestParseSubscriber(t *testing.T) {
	cases := []struct {
		in, number string
		params     map[string]string
	}{
		{"+1-202-555-0143", "+1-202-555-0143", map[string]string{}},
		{"555-0199;Phone-Context=+1-202;ext=7", "555-0199", map[string]string{"phone-context": "+1-202", "ext": "7"}},
		{"%2B12025550143;npdi;;rn=%2B13015550000", "+12025550143", map[string]string{"npdi": "", "rn": "+13015550000"}},
		{"2025550143%3Bext=1", "2025550143;ext=1", map[string]string{}},
	}
	for _, c := range cases {
		s, err := ParseSubscriber(c.in)
		if err != nil || s.Number != c.number || !maps.Equal(s.Params, c.params) {
			t.Errorf("ParseSubscriber(%q) = %+v, %v; want %q %v", c.in, s, err, c.number, c.params)
		}
	}
	for _, in := range []string{"2025550143%2", "2025550143;isub=%zz", "2025550143;=1"} {
		if s, err := ParseSubscriber(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSubscriber(%q) = %+v, %v; want ErrInvalid", in, s, err)
		}
	}
}

// TestInContextAgreesWithLibphonenumber holds the reading of phone-context
// to libphonenumber's own reading of the same tel: URIs (RFC 3966 §5.1.5).
func TestInContextAgreesWithLibphonenumber(t *testing.T) {
	cases := map[[2]string]string{
		{"555-0199", "+1-202"}:           "+12025550199",
		{"(202) 555-0199", "+1"}:         "+12025550199",
		{"7946-0958", "+44-20"}:          "+442079460958",
		{"202-555-0199", "example.com"}:  "+12025550199",
		{"+1-202-555-0143", ""}:          "+12025550143",
		{"202.555.0143", ""}:             "+12025550143",
		{"1 42 68 53 00", "+33"}:         "+33142685300",
		{"555-0199", "pbx.example.com."}: "",
		{"555-0199", ""}:                 "",
		{"555-0199", "+"}:                "",
		{"555-0199", "202"}:              "",
		{"555-0199", "+1-202x"}:          "",
		{"*67-555-0199", "+1-202"}:       "",
		{"12025550199", "+1"}:            "",
	}
	for in, want := range cases {
		got, err := InContext(in[0], in[1], "US")
		if got != want || (want == "") != errors.Is(err, ErrInvalid) {
			t.Errorf("InContext(%q, %q) = %q, %v; want %q", in[0], in[1], got, err, want)
		}
		if want == "" {
			continue
		}
		uri := "tel:" + in[0]
		if in[1] != "" {
			uri += ";phone-context=" + in[1]
		}
		if n, err := phonenumbers.Parse(uri, "US"); err != nil || phonenumbers.Format(n, phonenumbers.E164) != want {
			t.Errorf("libphonenumber reads %s otherwise: %v %v", uri, n, err)
		}
	}
}
