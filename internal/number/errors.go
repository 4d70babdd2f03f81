package number

import "errors"

// ErrInvalid is returned, wrapped with the reason, by Normalize when the
// dialed string is not a telephone number.
var ErrInvalid = errors.New("invalid number")
