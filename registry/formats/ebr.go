package formats

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// EBRColumns are the columns of an exemptions file. kind is purchase or
// inquiry (an established business relationship) or permission (the called
// party's written permission to call); an empty seller means any.
var EBRColumns = []Column{
	numberColumn,
	sellerColumn(true),
	{Name: "kind", Required: true, Aliases: []string{"type", "ebr_type", "relationship", "exemption", "exemption_type", "transaction_type"}},
	{Name: "date", Required: true, Aliases: []string{"last_transaction", "last_transaction_date", "transaction_date", "last_purchase", "purchase_date", "inquiry_date", "permission_date"}},
}

// Exemption is one exemption record as a file gives it.
type Exemption struct {
	Number Number
	Seller string
	Kind   string // purchase, inquiry or permission
	Date   time.Time
	Line   int
}

// ReadExemptions reads an exemptions file (CSV with a header).
func ReadExemptions(r io.Reader, name string, mapping Mapping, fn func(Exemption) error) error {
	return ReadTable(r, name, EBRColumns, mapping, func(row *Row) error {
		e := Exemption{Seller: row.Get("seller"), Line: row.Line}
		var err error
		if e.Number, err = row.Number("number"); err != nil {
			return err
		}
		if e.Kind, err = ExemptionKind(row.Get("kind")); err != nil {
			return row.Errorf("%v", err)
		}
		if e.Date, err = row.Time("date", true); err != nil {
			return err
		}
		return fn(e)
	})
}

// ExemptionKind checks an exemption kind: purchase, inquiry or permission.
func ExemptionKind(s string) (string, error) {
	switch k := strings.ToLower(strings.TrimSpace(s)); k {
	case "purchase", "inquiry", "permission":
		return k, nil
	}
	return "", fmt.Errorf("kind %q is not purchase, inquiry or permission", s)
}
