package feedbus

import "hash/maphash"

// fingerprintSlots is how many recent messages the receive loop remembers
// a hash of: 32,768 (512 KiB), 33 ms of a feed at a million messages a
// second, far longer than one line's copy trails the other's.
const fingerprintSlots = 1 << 15

// fingerprints remembers a hash of each recently won message by sequence
// number, so that a later copy from another line that differs is seen.
// The lines of a feed carry the same messages byte for byte; a copy that
// differs means one of them was not the publisher's (a forged frame at the
// feed's next numbers, which only --auth-key can refuse), or that two
// publishers share a session id. Either way the loser is counted, per
// line, as a conflict. It costs one short hash per message copy.
type fingerprints struct {
	seed  maphash.Seed
	slots []fingerprint
}

type fingerprint struct {
	seq uint64 // 0: empty
	sum uint64
}

func newFingerprints() *fingerprints {
	return &fingerprints{seed: maphash.MakeSeed(), slots: make([]fingerprint, fingerprintSlots)}
}

// remember records the winning copy of message seq.
func (p *fingerprints) remember(seq uint64, encoded []byte) {
	p.slots[seq&(fingerprintSlots-1)] = fingerprint{seq: seq, sum: maphash.Bytes(p.seed, encoded)}
}

// conflicts reports whether a duplicate copy of message seq differs from
// the copy that won. A message too old to be remembered cannot conflict.
func (p *fingerprints) conflicts(seq uint64, encoded []byte) bool {
	s := p.slots[seq&(fingerprintSlots-1)]
	return s.seq == seq && s.sum != maphash.Bytes(p.seed, encoded)
}

// reset forgets everything: a new session numbers from 1 again.
func (p *fingerprints) reset() { clear(p.slots) }
