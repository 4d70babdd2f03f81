package number

import (
	"fmt"
	"net/url"
	"strings"
)

// Subscriber is a telephone-subscriber (RFC 3966 §3): a number as a dialer
// writes it in a tel: URI, or in the user part of a sip: URI (RFC 3261
// §19.1.6), with its parameters.
type Subscriber struct {
	// Number is the number as dialed, escapes decoded: global
	// ("+1-202-555-0143") or local ("555-0199"), visual separators kept.
	Number string
	// Params holds the parameters by name in lower case, values with escapes
	// decoded; a parameter without a value (npdi) maps to "". Nil when the
	// number has no parameters. Among them
	// phone-context (§5.1.5), ext (§5.1.3), isub (§5.1.4), the post-dial
	// digits postd (RFC 2806), npdi, rn and rn-context (RFC 4694).
	Params map[string]string
}

// ParseSubscriber splits s, the user part of a sip: or sips: URI or the body
// of a tel: URI, into its number and parameters. Escapes (%2B, RFC 3261
// §19.1.2) are decoded after the split, so an escaped ";" is part of the
// number, not a separator. The error (wrapping ErrInvalid) is for a
// malformed escape or an empty parameter name.
func ParseSubscriber(s string) (Subscriber, error) {
	num, rest, _ := strings.Cut(s, ";")
	var sub Subscriber
	var err error
	if sub.Number, err = unescape(num, s); err != nil {
		return Subscriber{}, err
	}
	if rest != "" {
		sub.Params = map[string]string{}
	}
	for _, p := range strings.Split(rest, ";") {
		if p == "" {
			continue // "npdi;;rn=": nothing, not a parameter
		}
		name, value, _ := strings.Cut(p, "=")
		if name == "" {
			return Subscriber{}, fmt.Errorf("%w: %q has a parameter without a name", ErrInvalid, s)
		}
		if name, err = unescape(name, s); err != nil {
			return Subscriber{}, err
		}
		if value, err = unescape(value, s); err != nil {
			return Subscriber{}, err
		}
		sub.Params[strings.ToLower(name)] = value
	}
	return sub, nil
}

func unescape(part, whole string) (string, error) {
	s, err := url.PathUnescape(part) // PathUnescape, not QueryUnescape: "+" stays "+"
	if err != nil {
		return "", fmt.Errorf("%w: %q has a malformed escape: %v", ErrInvalid, whole, err)
	}
	return s, nil
}

// E164 is the subscriber's number in E.164, read in its phone-context (see
// InContext). Extensions, subaddresses and post-dial digits reach someone
// behind the number, and leave it as it is.
func (s Subscriber) E164(region string) (string, error) {
	return InContext(s.Number, s.Params["phone-context"], region)
}

// RoutingNumber is the subscriber's rn= parameter (RFC 4694: the LRN of a
// number portability dip) in E.164, read in its rn-context as a number in
// its phone-context; "" without one.
func (s Subscriber) RoutingNumber(region string) (string, error) {
	rn, ok := s.Params["rn"]
	if !ok {
		return "", nil
	}
	return InContext(rn, s.Params["rn-context"], region)
}

// InContext normalizes a number dialed in a phone-context (RFC 3966
// §5.1.5) to E.164. A global number (+...) stands alone. A local number
// under a global context (+1-202) is the context's digits followed by its
// own: 555-0199 in +1-202 is +12025550199. A local number without a context,
// or under a domain name (example.com), is read in region as Normalize
// reads it. The error wraps ErrInvalid; a context that is neither +digits
// nor a domain name is one.
func InContext(num, context, region string) (string, error) {
	switch {
	case strings.HasPrefix(strings.TrimSpace(num), "+") || context == "":
		return Normalize(num, region)
	case globalPrefix(context):
		return Normalize(context+num, region)
	case domainName(context):
		return Normalize(num, region)
	}
	return "", fmt.Errorf("%w: phone-context %q is neither a global number prefix (+1-202) nor a domain name", ErrInvalid, context)
}

// globalPrefix tells whether s is global-number-digits (RFC 3966 §3): "+",
// then digits and visual separators, at least one digit.
func globalPrefix(s string) bool {
	if len(s) < 2 || s[0] != '+' {
		return false
	}
	digits := false
	for _, c := range []byte(s[1:]) {
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case !strings.ContainsRune("-.()", rune(c)):
			return false
		}
	}
	return digits
}

// domainName tells whether s is a domainname (RFC 3966 §3): dot-separated
// labels of letters, digits and inner hyphens, the last starting with a
// letter; one trailing dot allowed.
func domainName(s string) bool {
	labels := strings.Split(strings.TrimSuffix(s, "."), ".")
	for _, l := range labels {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
	}
	top := labels[len(labels)-1][0]
	return top >= 'a' && top <= 'z' || top >= 'A' && top <= 'Z'
}
