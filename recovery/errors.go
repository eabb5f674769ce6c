package recovery

import "errors"

// Errors of the recovery protocol and its client.
var (
	// ErrBadRequest matches every error ParseRequest returns.
	ErrBadRequest = errors.New("recovery: bad request")
	// ErrBadReply matches every error ParseReply returns.
	ErrBadReply = errors.New("recovery: bad reply")
	// ErrEndpoint is returned for a recovery endpoint that is not tcp://,
	// ipc:// or inproc://, or does not parse.
	ErrEndpoint = errors.New("recovery: bad endpoint")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("recovery: closed")
)
