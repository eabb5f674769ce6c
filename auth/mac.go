package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"

	"github.com/feedbus/feedbus/bus"
)

// Trailer layout: an authenticated frame ends with the key id (u32,
// little-endian) and the tag. The tag is the first TagLen bytes of
// HMAC-SHA256(macKey, frame[:len(frame)-TagLen]): every byte before the
// tag, the key id included.
const (
	// KeyIDLen is the length of the key id at the start of the trailer.
	KeyIDLen = 4
	// TagLen is the length of the tag that ends the frame: HMAC-SHA256
	// truncated to 128 bits.
	TagLen = 16
	// TrailerLen is bus.AuthTrailerLen: KeyIDLen + TagLen.
	TrailerLen = bus.AuthTrailerLen
	// MinSecretLen is the shortest secret a key file may hold, in bytes.
	MinSecretLen = 32
	// MaxSecretLen bounds a secret, in bytes; anything longer is a
	// pasting accident.
	MaxSecretLen = 1024
	// MaxKeys bounds the keys of one file: two during a rotation is
	// normal, a handful is plenty.
	MaxKeys = 16
)

// macLabel separates the frame MAC key from anything else a group secret
// may key later (recovery requests, say): the MAC key is
// HMAC-SHA256(secret, macLabel), never the secret itself.
const macLabel = "feedbus frame MAC v1"

// deriveMACKey returns the frame MAC key for secret.
func deriveMACKey(secret []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(macLabel))
	return h.Sum(nil)
}

// newMAC returns the frame MAC keyed with macKey. Reset restores the keyed
// state without rehashing the key, so each frame costs one MAC over its
// bytes and no allocation.
func newMAC(macKey []byte) hash.Hash { return hmac.New(sha256.New, macKey) }

// sumTag computes the tag of signed, the bytes of a frame up to and
// including its key id, into sum, and returns the TagLen bytes to compare
// or append.
func sumTag(mac hash.Hash, signed []byte, sum *[sha256.Size]byte) []byte {
	mac.Reset()
	mac.Write(signed)
	return mac.Sum(sum[:0])[:TagLen]
}
