package policy

// campaign holds when the call's campaign (the dialer's X-Campaign-ID) is in
// the set, or with not_in when it is not:
//
//	match:
//	  campaign: [spring-sale, fall-sale]
//
// A call that names no campaign is in no set. The trace value is the call's
// campaign.
func init() {
	registerCondition("campaign", setParser("campaign", func(c *Call) string { return c.Campaign }))
}
