package formats

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// RNDColumns are the columns of a file of FCC Reassigned Numbers Database answers.
var RNDColumns = []Column{
	numberColumn,
	{Name: "asked_on", Required: true, Aliases: []string{"date", "date_provided", "query_date", "consent_date", "as_of", "as_of_date"}},
	{Name: "answer", Required: true, Aliases: []string{"result", "response", "reassigned", "disconnected"}},
	{Name: "disconnected_on", Aliases: []string{"disconnect_date", "disconnection_date", "disconnected_date", "permanent_disconnect_date"}},
}

// RNDAnswer is one answer of the FCC Reassigned Numbers Database: asked
// whether the number was permanently disconnected since AskedOn, it said
// yes, no or no_data.
type RNDAnswer struct {
	Number         Number
	AskedOn        time.Time
	Answer         string // yes, no, no_data
	DisconnectedOn time.Time
	Line           int
}

// ReadRND reads a file of RND answers (CSV with a header).
func ReadRND(r io.Reader, name string, mapping Mapping, fn func(RNDAnswer) error) error {
	return ReadTable(r, name, RNDColumns, mapping, func(row *Row) error {
		a := RNDAnswer{Line: row.Line}
		var err error
		if a.Number, err = row.Number("number"); err != nil {
			return err
		}
		if a.AskedOn, err = row.Time("asked_on", true); err != nil {
			return err
		}
		if a.Answer, err = RNDAnswerWord(row.Get("answer")); err != nil {
			return row.Errorf("%v", err)
		}
		if a.DisconnectedOn, err = row.Time("disconnected_on", false); err != nil {
			return err
		}
		return fn(a)
	})
}

// RNDAnswerWord checks an RND answer: yes, no or no_data (also written
// "No Data", as the database words it).
func RNDAnswerWord(s string) (string, error) {
	switch a := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), " ", "_"); a {
	case "yes", "no", "no_data":
		return a, nil
	}
	return "", fmt.Errorf("answer %q is not yes, no or no_data", s)
}
