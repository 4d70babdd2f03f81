package registry

// NumberData is what the data sets beside the lists know of one number, for
// `gatekeeper lookup`.
type NumberData struct {
	Number      string            `json:"number"`
	LineType    LineType          `json:"line_type"`
	Consents    []ConsentRecord   `json:"consents"`
	Revocations []ConsentChange   `json:"revocations"`
	RND         []RNDRecord       `json:"rnd"`
	Exemptions  []ExemptionRecord `json:"exemptions"`
}

// NumberData gathers the line type (with routing, the routing number of an
// LNP dip, or "") and every consent, revocation, RND answer and exemption of
// the E.164 number.
func (s *Store) NumberData(e164, routing string) (NumberData, error) {
	d := NumberData{Number: e164}
	var err error
	if d.LineType, err = s.LineType(e164, routing); err != nil {
		return d, err
	}
	if d.Consents, d.Revocations, _, err = s.Consents(e164); err != nil {
		return d, err
	}
	if d.RND, _, err = s.RNDAnswers(e164); err != nil {
		return d, err
	}
	d.Exemptions, _, err = s.Exemptions(e164)
	// Empty lists, not null, in JSON.
	if d.Consents == nil {
		d.Consents = []ConsentRecord{}
	}
	if d.Revocations == nil {
		d.Revocations = []ConsentChange{}
	}
	if d.RND == nil {
		d.RND = []RNDRecord{}
	}
	if d.Exemptions == nil {
		d.Exemptions = []ExemptionRecord{}
	}
	return d, err
}
