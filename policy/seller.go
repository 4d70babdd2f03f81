package policy

// seller holds when the seller the call is made for is in the set, or with
// not_in when it is not:
//
//	match:
//	  seller: {not_in: [acme]}
//
// A call that names no seller is in no set. The trace value is the call's
// seller.
func init() {
	registerCondition("seller", setParser("seller", func(c *Call) string { return c.Seller }))
}
