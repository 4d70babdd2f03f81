package policy

// reasonPhrases holds the standard reason phrases (RFC 3261 §21, RFC 8197,
// RFC 8688) of the answers a policy is likely to send; a rule with another
// status must give its own reason. sipgo has the codes but no phrases.
var reasonPhrases = map[int]string{
	400: "Bad Request",
	403: "Forbidden",
	404: "Not Found",
	480: "Temporarily Unavailable",
	484: "Address Incomplete",
	486: "Busy Here",
	487: "Request Terminated",
	488: "Not Acceptable Here",
	500: "Server Internal Error",
	503: "Service Unavailable",
	600: "Busy Everywhere",
	603: "Decline",
	604: "Does Not Exist Anywhere",
	606: "Not Acceptable",
	607: "Unwanted",
	608: "Rejected",
}
