package policy

// dialer holds when the dialer that sent the call (by its configured name)
// is in the set, or with not_in when it is not:
//
//	match:
//	  dialer: [predictive]
//
// The trace value is the call's dialer.
func init() {
	registerCondition("dialer", setParser("dialer", func(c *Call) string { return c.Dialer }))
}
