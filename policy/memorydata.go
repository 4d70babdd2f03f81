package policy

import (
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// memoryData holds the line type, consent and exemption fixtures of policy
// test files. It answers with the registry's own rules (registry.DecideConsent,
// registry.DecideExemption), so a test case sees what a real registry would.
type memoryData struct {
	// lineTypes answers per number; a number without one is defaultLineType.
	lineTypes       map[string]registry.LineType
	defaultLineType registry.LineType
	consents        map[string][]registry.ConsentRecord
	rnd             map[string][]registry.RNDRecord
	exemptions      map[string][]registry.ExemptionRecord
}

func newMemoryData() memoryData {
	return memoryData{lineTypes: map[string]registry.LineType{}, consents: map[string][]registry.ConsentRecord{},
		rnd: map[string][]registry.RNDRecord{}, exemptions: map[string][]registry.ExemptionRecord{},
		defaultLineType: registry.LineType{Type: registry.LineUnknown, Source: registry.SourceNone}}
}

func (m *memoryRegistry) LineType(e164, _ string) (registry.LineType, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if lt, ok := m.data.lineTypes[e164]; ok {
		return lt, nil
	}
	return m.data.defaultLineType, nil
}

func (m *memoryRegistry) Consent(e164, seller, campaign string, at time.Time) (registry.ConsentAnswer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := registry.ConsentQuery{Number: e164, Seller: seller, Campaign: campaign, At: at}
	a := registry.DecideConsent(q, m.data.consents[e164], nil, m.data.rnd[e164])
	a.Version = 1
	return a, nil
}

func (m *memoryRegistry) Exemption(e164, seller string, at time.Time, p registry.ExemptionPeriods) (registry.ExemptionAnswer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := registry.DecideExemption(m.data.exemptions[e164], seller, at, p)
	a.Version = 1
	return a, nil
}
