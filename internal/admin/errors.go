package admin

import "errors"

// ErrNoAnswer is returned when the connection to the server ended before
// its whole answer came (the server stopped or was killed): what the
// request did is unknown, and the registry says.
var ErrNoAnswer = errors.New("the server's answer never came or ended early")
