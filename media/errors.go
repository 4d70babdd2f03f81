package media

import "errors"

// ErrNoPorts is returned when every port pair of the configured range is
// in use (or cannot be bound), so a stream cannot be anchored.
var ErrNoPorts = errors.New("no free media ports in the range")

// ErrNotSDP is returned when a body is not an SDP that names media: no
// v= line, or an m= or c= line that cannot be read.
var ErrNotSDP = errors.New("not a session description")

// ErrClosed is returned when the relay was closed, or the call's session
// ended while its SDP was being rewritten.
var ErrClosed = errors.New("media relay is closed")

// ErrNotWAV is returned when a safe-harbor message is not a WAV file of
// 8 kHz mono 16-bit linear PCM.
var ErrNotWAV = errors.New("not an 8 kHz mono 16-bit PCM WAV file")

// ErrShortMessage is returned when a safe-harbor message holds too little
// sound to be recognized (less than a second above the speech threshold).
var ErrShortMessage = errors.New("safe-harbor message too short to recognize")

// ErrReleased is returned when SDP comes for a call that Release ended less
// than the idle timeout ago: the relay anchors it no more.
var ErrReleased = errors.New("the call's media was released")
