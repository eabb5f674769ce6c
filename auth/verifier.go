package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"
	"time"

	"github.com/feedbus/feedbus/bus"
)

// DefaultWindow is how far a frame's send time may be from the verifier's
// clock, either way, before the frame is refused as a replay (ErrStale).
// It must exceed the clock offset between hosts plus the longest delay a
// frame may take to arrive (PGM repairs take hundreds of milliseconds), and
// is small enough that a replay within it can only repeat what a
// subscriber's sequence tracker still remembers.
const DefaultWindow = 10 * time.Second

// Verifier checks the trailers of frames against a key set: a frame
// signed with any of its keys verifies, so during a rotation frames
// signed with the old key and with the new one are both accepted. It
// keeps MAC state per key and allocates nothing, failures included. A
// Verifier is not safe for concurrent use: give each receive loop its own.
type Verifier struct {
	ids    []uint32
	macs   []hash.Hash // macs[i] is keyed for ids[i]
	window int64       // ns; 0: no freshness check
	sum    [sha256.Size]byte
	last   failure
}

// failure records the latest failure for LastFailure, without allocating.
type failure struct {
	err     error
	id      uint32
	len     int
	flagged bool
	age     int64 // verifier's clock minus send time, ns
}

// NewVerifier returns a Verifier that accepts every key in keys and
// refuses frames whose send time is more than DefaultWindow from the
// clock it is given (see SetWindow).
func NewVerifier(keys *Keys) *Verifier {
	v := &Verifier{ids: keys.IDs(), window: int64(DefaultWindow)}
	for _, id := range v.ids {
		v.macs = append(v.macs, newMAC(keys.macKey(id)))
	}
	return v
}

// SetWindow sets the replay window: frames whose send time is more than d
// before or after the verifier's clock fail with ErrStale. d <= 0 turns
// the check off, which only suits frames replayed on purpose (a capture
// played back): live, it lets a copied frame be replayed at any time.
func (v *Verifier) SetWindow(d time.Duration) { v.window = max(int64(d), 0) }

// Window returns the replay window; 0 means no freshness check.
func (v *Verifier) Window() time.Duration { return time.Duration(v.window) }

// Verify checks that frame, exactly as received, carries a good trailer
// from one of the keys and a send time within the window of now (the
// receiver's wall clock, ns since the Unix epoch). It returns nil, or one
// of ErrUnsigned, ErrUnknownKey, ErrBadTag and ErrStale, all of which
// match ErrAuth. The caller drops a failing frame and counts it; Verify
// counts nothing. Verify first, then decode: the tag covers the body as
// on the wire, so a forged frame is refused before any inflating.
func (v *Verifier) Verify(frame []byte, now int64) error {
	n := len(frame)
	if n < bus.HeaderLen+TrailerLen || frame[5]&bus.FlagAuth == 0 {
		return v.fail(ErrUnsigned, 0, n, n > 5 && frame[5]&bus.FlagAuth != 0, 0)
	}
	id := binary.LittleEndian.Uint32(frame[n-TrailerLen:])
	var mac hash.Hash
	for i, k := range v.ids {
		if k == id {
			mac = v.macs[i]
			break
		}
	}
	if mac == nil {
		return v.fail(ErrUnknownKey, id, n, true, 0)
	}
	tag := sumTag(mac, frame[:n-TagLen], &v.sum)
	if subtle.ConstantTimeCompare(tag, frame[n-TagLen:]) != 1 {
		return v.fail(ErrBadTag, id, n, true, 0)
	}
	if v.window > 0 {
		sent := int64(binary.LittleEndian.Uint64(frame[32:]))
		// The distance in uint64, where it cannot overflow.
		var dist uint64
		if sent <= now {
			dist = uint64(now) - uint64(sent)
		} else {
			dist = uint64(sent) - uint64(now)
		}
		if dist > uint64(v.window) {
			age := int64(min(dist, 1<<63-1))
			if sent > now {
				age = -age
			}
			return v.fail(ErrStale, id, n, true, age)
		}
	}
	return nil
}

func (v *Verifier) fail(err error, id uint32, n int, flagged bool, age int64) error {
	v.last = failure{err: err, id: id, len: n, flagged: flagged, age: age}
	return err
}

// LastFailure describes the latest frame that failed Verify, or returns
// nil if none has. The error wraps the sentinel Verify returned. It is
// meant for a summary or a log line now and then; it allocates.
func (v *Verifier) LastFailure() error {
	f := v.last
	switch f.err {
	case nil:
		return nil
	case ErrUnsigned:
		if f.flagged {
			return fmt.Errorf("%w: FlagAuth set on a frame of %d bytes, too short for a header and a %d-byte trailer", f.err, f.len, TrailerLen)
		}
		return fmt.Errorf("%w: no FlagAuth on a frame of %d bytes, and a key is configured: the publisher does not sign", f.err, f.len)
	case ErrUnknownKey:
		return fmt.Errorf("%w: key id %d, this verifier holds %s", f.err, f.id, joinIDs(v.ids))
	case ErrBadTag:
		return fmt.Errorf("%w: frame of %d bytes signed as key id %d: altered, or another secret under that id", f.err, f.len, f.id)
	case ErrStale:
		when := "old"
		age := f.age
		if age < 0 {
			when, age = "ahead of this clock", -age
		}
		return fmt.Errorf("%w: good tag (key id %d) but the send time is %v %s, window %v: a replay, or clocks out of step",
			f.err, f.id, time.Duration(age).Round(time.Millisecond), when, time.Duration(v.window))
	}
	return f.err
}

// FrameKeyID returns the key id in a signed frame's trailer, without
// verifying anything; ok is false for a frame without one. It lets a
// subscriber count frames per key during a rotation, to see when the
// old key is no longer used.
func FrameKeyID(frame []byte) (id uint32, ok bool) {
	n := len(frame)
	if n < bus.HeaderLen+TrailerLen || frame[5]&bus.FlagAuth == 0 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(frame[n-TrailerLen:]), true
}
