package feedbus

import "errors"

// Errors returned by the publisher and subscriber. Options wrap
// ErrOption with the offending value; test with errors.Is. Wire and socket
// errors come from package bus and match its sentinels (bus.ErrMalformed,
// bus.ErrEndpoint, ...).
var (
	// ErrOption: an option's value is out of range or inconsistent.
	ErrOption = errors.New("feedbus: bad option")
	// ErrClosed: the publisher or subscriber is closed.
	ErrClosed = errors.New("feedbus: closed")
	// ErrTooLarge: a message cannot fit in any frame.
	ErrTooLarge = errors.New("feedbus: message too large")
	// ErrSnail: the subscriber could not keep up and was told to stop
	// (WithSnailExit); the error's text is the verdict.
	ErrSnail = errors.New("feedbus: subscriber cannot keep up")
)
