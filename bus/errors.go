package bus

import "errors"

// ErrMalformed matches (with errors.Is) every error Decode returns, so a
// receive loop can count bad frames without listing each reason.
var ErrMalformed = errors.New("bus: malformed frame")

// wireError is a decoding failure; it is also an ErrMalformed.
type wireError string

func (e wireError) Error() string        { return string(e) }
func (e wireError) Is(target error) bool { return target == ErrMalformed }

// Errors from Decode and the encoders. Each also matches ErrMalformed.
var (
	ErrTruncated error = wireError("bus: truncated frame")
	ErrTooLarge  error = wireError("bus: frame too large")
	ErrMagic     error = wireError("bus: bad magic")
	ErrVersion   error = wireError("bus: unsupported wire version")
	ErrFlags     error = wireError("bus: unsupported flags")
	ErrCodec     error = wireError("bus: unsupported codec")
	ErrHeader    error = wireError("bus: bad header")
	ErrTrailing  error = wireError("bus: trailing bytes")
	ErrKind      error = wireError("bus: unknown message kind")
	ErrSymbol    error = wireError("bus: bad symbol")
)

// Errors from endpoints, options and sockets.
var (
	ErrEndpoint     = errors.New("bus: bad endpoint")
	ErrInterface    = errors.New("bus: bad interface")
	ErrNotMulticast = errors.New("bus: not a multicast group")
	ErrPrivilege    = errors.New("bus: not permitted")
	ErrOption       = errors.New("bus: bad option")
	ErrDuplicate    = errors.New("bus: duplicate line")
	ErrClosed       = errors.New("bus: closed")
)
