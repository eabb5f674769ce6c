// Package auth authenticates feedbus frames with a shared group key.
//
// A publisher that holds the group's [Keys] signs every frame it sends,
// data and heartbeats alike, once, after compression and before the frame
// goes out on any line ([Signer.Sign]): it sets bus.FlagAuth in the header
// and appends a 20-byte trailer, a key id and a 16-byte tag. A subscriber
// that holds the keys checks each frame before it decodes it
// ([Verifier.Verify]) and drops, and counts, every frame that fails. The
// layout, the MAC and a worked example are in docs/wire.md §12.
//
// # The MAC
//
// The tag is HMAC-SHA256 truncated to 16 bytes, keyed with a MAC key
// derived from the secret in the key file, over every byte of the frame
// before the tag: the header with its flags, the body exactly as on the
// wire (compressed, if it is), and the key id. HMAC-SHA256 was measured
// against keyed BLAKE2b, BLAKE2s, BLAKE3 and HMAC-SHA512 on the target
// hosts (x86-64 with the SHA extensions) and was the fastest for
// 100-byte and 1400-byte frames, with no dependency beyond the standard
// library; see BenchmarkSign and BenchmarkVerify. The verifier computes
// one MAC per frame, compares in constant time, and allocates nothing,
// failures included.
//
// # Replays
//
// The MAC covers the header's send time, so a verifier also rejects a
// frame whose send time is more than its window ([DefaultWindow], 10 s)
// away from its own clock. This needs publisher and subscriber clocks
// synchronised (NTP, better PTP) to well within the window. Within the
// window a copied frame still verifies: a replay of the current session
// is a duplicate that the sequence tracker drops, and a replay of a
// recent earlier session must not make a subscriber follow that session
// again, so with a key a new session replaces the followed one only if
// its send time is later than the followed session's newest frame
// (docs/wire.md §12.7).
//
// # Rotation
//
// A key file holds up to [MaxKeys] keys, each with its own id; a verifier
// accepts any of them, and a signer signs with the one the file names
// (sign = id). To rotate without a gap: add the new key to every
// subscriber and restart them, still signing with the old one; then make
// publishers sign with the new key; once no frame signed with the old id
// arrives any more, remove the old key everywhere.
//
// # What a group key proves
//
// A frame that verifies was made by some holder of the group key and not
// changed since. It does not prove which holder: every subscriber holds
// the same key a publisher signs with, so any of them can forge frames
// that every other member accepts. Nor does it hide anything: frames are
// not encrypted, and anyone on the network can read them. Per-publisher
// proof would need signatures (Ed25519), at tens of microseconds a frame.
//
// # Concurrency
//
// [Keys] is immutable once loaded and may be shared. A [Signer] or a
// [Verifier] keeps MAC state and buffers: give each goroutine its own.
package auth
