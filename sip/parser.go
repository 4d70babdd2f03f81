package sip

import (
	"maps"
	"reflect"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// paramHeaders are the headers whose values sipgo parses into parameters
// (full and compact names).
var paramHeaders = []string{
	"via", "v", "from", "f", "to", "t", "contact", "m", "route", "record-route",
	"content-type", "c", "refer-to", "referred-by",
}

// newParser is sipgo's parser with its header parameter parsing fixed for
// linear white space. RFC 3261 §25.1 allows LWS around the separators of a
// header value ("tag = 1", "SIP / 2.0 / UDP", "; branch=") and RFC 4475
// §3.1.1.1 (wsinv) tests it; sipgo v1.7.3 keeps that white space inside
// parameter names and values, so a To tag reads " 1" and a From tag goes
// missing, and its transaction layer answers such a valid request with a
// stateless 400 before the proxy sees it. The fault lies in sipgo's header
// parsing, so the fix sits at the hook sipgo offers there (a parser with
// custom header parsers): each value is tidied as §7.3.1 permits (LWS
// around a separator removed, other runs of LWS made one space, quoted
// strings untouched) and handed to sipgo's own parser. Copying sipgo's
// parser into this project, or replacing the module with a fork, is what
// this avoids.
func newParser() *sip.Parser {
	parsers := maps.Clone(sip.DefaultHeadersParser())
	for _, name := range paramHeaders {
		parse := parsers[name]
		parsers[name] = func(headerName []byte, text string) (sip.Header, error) {
			// sipgo hands over each value after a comma with the white
			// space that follows the comma: dropped here, it costs no copy.
			lead := len(text) - len(strings.TrimLeft(text, " \t"))
			tidy, from := tidyLWS(text[lead:])
			h, err := parse(headerName, tidy)
			return h, commaInOriginal(err, from, lead)
		}
	}
	return sip.NewParser(sip.WithHeadersParsers(parsers))
}

// commaInOriginal maps sipgo's "more values after a comma at index i" signal
// from the tidied text back to the text sipgo's header loop holds, which
// slices its own copy at that index: through from (nil when the text was
// tidy), then past the lead bytes of white space cut before tidying. The
// signal is an unexported integer error type, hence reflect; any other
// error passes unchanged.
func commaInOriginal(err error, from []int, lead int) error {
	if err == nil || from == nil && lead == 0 {
		return err
	}
	v := reflect.ValueOf(err)
	if v.Kind() != reflect.Int || v.Int() < 0 || from != nil && int(v.Int()) >= len(from) {
		return err
	}
	i := int(v.Int())
	if from != nil {
		i = from[i]
	}
	moved := reflect.New(v.Type()).Elem()
	moved.SetInt(int64(i + lead))
	return moved.Interface().(error)
}

// tidyLWS removes the white space around the separators ; = / and before a
// comma in a header value and makes other runs of spaces and tabs one
// space, outside quoted strings. White space after a comma stays: sipgo
// hands each value after a comma to its parser on its own, and the parser
// newParser gives it cuts that value's leading white space first. It
// returns text itself when nothing changes, else the tidied text and, for
// each of its bytes, the index it came from in text.
func tidyLWS(text string) (string, []int) {
	if !untidy(text) {
		return text, nil
	}
	out := make([]byte, 0, len(text))
	from := make([]int, 0, len(text))
	quoted := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quoted:
			out, from = append(out, c), append(from, i)
			if c == '\\' && i+1 < len(text) {
				i++
				out, from = append(out, text[i]), append(from, i)
			} else if c == '"' {
				quoted = false
			}
		case isLWS(c):
			j := i
			for j < len(text) && isLWS(text[j]) {
				j++
			}
			if len(out) > 0 && out[len(out)-1] == ',' {
				for ; i < j; i++ {
					out, from = append(out, text[i]), append(from, i)
				}
			} else if len(out) > 0 && !isSeparator(out[len(out)-1]) && j < len(text) && !isSeparator(text[j]) {
				out, from = append(out, ' '), append(from, i)
			}
			i = j - 1
		default:
			quoted = c == '"'
			out, from = append(out, c), append(from, i)
		}
	}
	return string(out), from
}

// untidy reports whether tidyLWS could change text: a tab, two spaces in a
// row, or a space at an end, before a separator or after one other than a
// comma. It looks at the spaces only, found with strings.IndexByte: every
// header value with parameters of every message passes here (a byte loop
// was 1 % of the proxy's instructions).
func untidy(text string) bool {
	if strings.IndexByte(text, '\t') >= 0 {
		return true
	}
	for i := 0; ; i++ {
		j := strings.IndexByte(text[i:], ' ')
		if j < 0 {
			return false
		}
		i += j
		if i == 0 || i == len(text)-1 || text[i+1] == ' ' || isSeparator(text[i-1]) && text[i-1] != ',' || isSeparator(text[i+1]) {
			return true
		}
	}
}

func isLWS(c byte) bool { return c == ' ' || c == '\t' }

func isSeparator(c byte) bool { return c == ';' || c == '=' || c == '/' || c == ',' }
