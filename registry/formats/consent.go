package formats

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// ConsentColumns are the columns of a consent file. An empty seller or
// campaign means any; expires_at and revoked_at may be empty.
var ConsentColumns = []Column{
	numberColumn,
	sellerColumn(false),
	{Name: "campaign", Aliases: []string{"campaign_id", "campaign_name", "program"}},
	{Name: "kind", Required: true, Aliases: []string{"consent_kind", "consent_type", "type"}},
	{Name: "granted_at", Required: true, Aliases: []string{"granted", "granted_on", "grant_date", "consent_date", "consented_at", "consented_on", "opt_in_date", "opt_in_at", "opted_in_at"}},
	{Name: "expires_at", Aliases: []string{"expires", "expires_on", "expiry", "expiry_date", "expiration", "expiration_date", "valid_until"}},
	{Name: "revoked_at", Aliases: []string{"revoked", "revoked_on", "revocation_date", "opt_out_date", "opt_out_at", "opted_out_at"}},
	{Name: "evidence", Aliases: []string{"proof", "evidence_id", "evidence_ref", "reference", "recording_id", "form_id", "certificate", "certificate_url", "lead_id"}},
}

// Consent is one consent record as a file gives it.
type Consent struct {
	Number                          Number
	Seller, Campaign                string
	Kind                            string // express or written
	GrantedAt, ExpiresAt, RevokedAt time.Time
	Evidence                        string // a form id, a recording id...
	Line                            int
}

// ReadConsents reads a consent file (CSV with a header).
func ReadConsents(r io.Reader, name string, mapping Mapping, fn func(Consent) error) error {
	return ReadTable(r, name, ConsentColumns, mapping, func(row *Row) error {
		c := Consent{Seller: row.Get("seller"), Campaign: row.Get("campaign"), Evidence: row.Get("evidence"), Line: row.Line}
		var err error
		if c.Number, err = row.Number("number"); err != nil {
			return err
		}
		if c.Kind, err = ConsentKind(row.Get("kind")); err != nil {
			return row.Errorf("%v", err)
		}
		if c.GrantedAt, err = row.Time("granted_at", true); err != nil {
			return err
		}
		if c.ExpiresAt, err = row.Time("expires_at", false); err != nil {
			return err
		}
		if c.RevokedAt, err = row.Time("revoked_at", false); err != nil {
			return err
		}
		if !c.ExpiresAt.IsZero() && !c.ExpiresAt.After(c.GrantedAt) {
			return row.Errorf("expires_at %s is not after granted_at %s", c.ExpiresAt.Format(time.RFC3339), c.GrantedAt.Format(time.RFC3339))
		}
		return fn(c)
	})
}

// ConsentKind checks a consent kind: express or written.
func ConsentKind(s string) (string, error) {
	switch k := strings.ToLower(strings.TrimSpace(s)); k {
	case "express", "written":
		return k, nil
	}
	return "", fmt.Errorf("kind %q is not express or written", s)
}
