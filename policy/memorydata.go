package policy

import (
	"time"

	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// memoryData holds the line type, consent, RND, exemption and abandonment fixtures of
// policy test files. Like the registry, it returns the records; the
// conditions decide what they mean, as they do on a real registry.
type memoryData struct {
	// lineTypes answers per number; a number without one is defaultLineType.
	lineTypes       map[string]registry.LineType
	defaultLineType registry.LineType
	consents        map[string][]registry.ConsentRecord
	rnd             map[string][]registry.RNDRecord
	exemptions      map[string][]registry.ExemptionRecord
	abandonment     map[string]registry.AbandonmentPeriod // by campaign
}

func newMemoryData() memoryData {
	return memoryData{lineTypes: map[string]registry.LineType{}, consents: map[string][]registry.ConsentRecord{},
		rnd: map[string][]registry.RNDRecord{}, exemptions: map[string][]registry.ExemptionRecord{},
		abandonment:     map[string]registry.AbandonmentPeriod{},
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

// The fixtures are version 1 of each data set.

func (m *memoryRegistry) Consents(e164 string) ([]registry.ConsentRecord, []registry.ConsentChange, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data.consents[e164], nil, 1, nil
}

func (m *memoryRegistry) RNDAnswers(e164 string) ([]registry.RNDRecord, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data.rnd[e164], 1, nil
}

func (m *memoryRegistry) Exemptions(e164 string) ([]registry.ExemptionRecord, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data.exemptions[e164], 1, nil
}

// Abandonment answers with the campaign's fixture, a period the test's
// call falls in; a campaign without one has no live-answered call.
func (m *memoryRegistry) Abandonment(campaign string, _ time.Time) (registry.AbandonmentPeriod, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.data.abandonment[campaign]; ok {
		return p, nil
	}
	return registry.AbandonmentPeriod{Campaign: campaign}, nil
}
