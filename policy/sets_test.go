package policy

import "testing"

// checkSet evaluates each match (a campaign, dialer or seller set) on the
// call and wants it to hold as given, with the call's name as trace value.
func checkSet(t *testing.T, c Call, holds map[string]bool, value string) {
	t.Helper()
	for match, want := range holds {
		if matched, trace := evalOne(t, "", match, c, nil); matched != want || trace[0].Value != value {
			t.Errorf("%s: %v %+v; want %v %q", match, matched, trace, want, value)
		}
	}
}
