package auth

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"

	"github.com/feedbus/feedbus/bus"
)

// Signer signs frames with one key. It keeps its MAC state and a buffer,
// so signing allocates nothing once warm. A Signer is not safe for
// concurrent use.
type Signer struct {
	id  uint32
	mac hash.Hash
	sum [sha256.Size]byte
	buf []byte
}

// NewSigner returns a Signer for the key keys.SignID names.
func NewSigner(keys *Keys) (*Signer, error) {
	id := keys.SignID()
	if id == 0 {
		return nil, fmt.Errorf("%w: %s holds several keys (ids %s) and no sign = id: name the one to sign with",
			ErrKeyFile, keys.name, joinIDs(keys.ids))
	}
	return &Signer{id: id, mac: newMAC(keys.macKey(id))}, nil
}

// KeyID returns the id of the key the Signer signs with.
func (s *Signer) KeyID() uint32 { return s.id }

// Sign authenticates frame, a whole frame as it will be sent: compressed
// already, if it is to be. It sets bus.FlagAuth in the header, appends
// the trailer (the key id and the tag over every byte before the tag) and
// returns the signed frame, which is what goes out on every line.
//
// When frame has room for TrailerLen more bytes (cap(frame)-len(frame) >=
// TrailerLen) Sign signs it in place: it changes frame's flags byte and
// writes the trailer into its spare capacity, and the result shares
// frame's array. Otherwise it signs a copy in a buffer the Signer reuses,
// valid until the next Sign, and frame is left alone. Either way nothing
// is allocated once the Signer's buffer has grown.
//
// A frame shorter than a header, one already signed, or one the trailer
// would push over bus.MaxFrameLen is refused with an error matching
// ErrSign: a publisher must leave TrailerLen bytes of its frame budget
// for the trailer.
func (s *Signer) Sign(frame []byte) ([]byte, error) {
	n := len(frame)
	switch {
	case n < bus.HeaderLen || string(frame[:4]) != bus.Magic:
		return nil, fmt.Errorf("%w: not a frame (%d bytes)", ErrSign, n)
	case frame[5]&bus.FlagAuth != 0:
		return nil, fmt.Errorf("%w: frame already signed", ErrSign)
	case n+TrailerLen > bus.MaxFrameLen:
		return nil, fmt.Errorf("%w: frame of %d bytes, over %d with its %d-byte trailer", ErrSign, n, bus.MaxFrameLen, TrailerLen)
	}
	out := frame
	if cap(frame)-n < TrailerLen {
		if cap(s.buf) < n+TrailerLen {
			s.buf = make([]byte, 0, n+TrailerLen+n/4)
		}
		out = append(s.buf[:0], frame...)
		s.buf = out
	}
	out[5] |= bus.FlagAuth
	out = binary.LittleEndian.AppendUint32(out, s.id)
	return append(out, sumTag(s.mac, out, &s.sum)...), nil
}
