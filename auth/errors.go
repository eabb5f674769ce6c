package auth

import "errors"

// ErrAuth matches (with errors.Is) every error Verify returns, so a
// receive loop can count failed frames (auth_failed) without listing each
// reason.
var ErrAuth = errors.New("auth: frame failed authentication")

// authError is a verification failure; it is also an ErrAuth.
type authError string

func (e authError) Error() string        { return string(e) }
func (e authError) Is(target error) bool { return target == ErrAuth }

// Errors from Verify. Each matches ErrAuth. They are plain values, so a
// failing frame costs no allocation; Verifier.LastFailure tells the
// details of the latest one.
var (
	// ErrUnsigned: the frame has no auth trailer (bus.FlagAuth is clear,
	// or it is too short to hold a header and a trailer). A verifier
	// refuses it: with a key configured, unauthenticated frames are not
	// accepted.
	ErrUnsigned error = authError("auth: frame not signed")
	// ErrUnknownKey: the trailer names a key id the verifier does not hold.
	ErrUnknownKey error = authError("auth: unknown key id")
	// ErrBadTag: the tag does not match: the frame was changed, or signed
	// with another secret under the same id.
	ErrBadTag error = authError("auth: bad tag")
	// ErrStale: the tag is good but the send time is further from the
	// verifier's clock than its window: a replay, or clocks out of step.
	ErrStale error = authError("auth: send time outside the replay window")
)

// ErrKeyFile matches every error from loading or building Keys.
var ErrKeyFile = errors.New("auth: bad key file")

// ErrSign matches every error from Signer.Sign: a caller's mistake, never
// a property of the data.
var ErrSign = errors.New("auth: cannot sign")
