package bus

import (
	"fmt"

	"github.com/klauspost/compress/dict"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Codec is the compression of a frame's body, carried in flag bits 1-3.
// The header itself is never compressed, so sequence numbers and times can
// be read without decompressing.
type Codec uint8

// Codecs.
const (
	CodecNone Codec = 0
	CodecS2   Codec = 1 // klauspost/compress S2 block format
	CodecZstd Codec = 2 // zstd frame, optionally with a dictionary (its id is in the zstd frame)
)

func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecS2:
		return "s2"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// ParseCodec parses "none", "s2" or "zstd".
func ParseCodec(s string) (Codec, error) {
	for _, c := range []Codec{CodecNone, CodecS2, CodecZstd} {
		if c.String() == s {
			return c, nil
		}
	}
	return 0, fmt.Errorf("%w: codec %q (want none, s2 or zstd)", ErrOption, s)
}

// codecOf returns the codec bits of a flags byte.
func codecOf(flags uint8) Codec { return Codec((flags & flagCodecMask) >> 1) }

// Compressor compresses the bodies of frames built by a FrameWriter. It
// reuses its buffers: after warm-up it allocates nothing per frame. A
// Compressor is not safe for concurrent use.
type Compressor struct {
	codec Codec
	zw    *zstd.Encoder
	buf   []byte
}

// NewCompressor returns a Compressor for codec; dictionary, if not nil, is
// a zstd dictionary (see TrainDictionary) and needs CodecZstd.
func NewCompressor(codec Codec, dictionary []byte) (*Compressor, error) {
	c := &Compressor{codec: codec}
	switch codec {
	case CodecNone, CodecS2:
		if dictionary != nil {
			return nil, fmt.Errorf("%w: a dictionary needs the zstd codec", ErrOption)
		}
	case CodecZstd:
		// Single segment: every frame declares its content size, which a
		// Decoder requires (without it the encoder leaves the size out of
		// frames under 256 bytes).
		opts := []zstd.EOption{zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false), zstd.WithSingleSegment(true)}
		if dictionary != nil {
			opts = append(opts, zstd.WithEncoderDict(dictionary))
		}
		zw, err := zstd.NewWriter(nil, opts...)
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %w", ErrOption, err)
		}
		c.zw = zw
	default:
		return nil, fmt.Errorf("%w: unknown codec %d", ErrOption, codec)
	}
	return c, nil
}

// Compress returns frame with its body compressed and its codec flag set,
// or frame itself when compression would not make it smaller (the
// receiver then has nothing to undo). The result is valid until the next
// call. frame must be a well-formed, uncompressed frame.
func (c *Compressor) Compress(frame []byte) []byte {
	if c.codec == CodecNone || len(frame) <= HeaderLen {
		return frame
	}
	hlen := int(frame[6]) | int(frame[7])<<8
	body := frame[hlen:]
	out := append(c.buf[:0], frame[:hlen]...)
	switch c.codec {
	case CodecS2:
		n := s2.MaxEncodedLen(len(body))
		if cap(out)-len(out) < n {
			out = append(out, make([]byte, n)...)[:hlen]
		}
		enc := s2.Encode(out[hlen:hlen+n], body)
		out = out[:hlen+len(enc)]
	case CodecZstd:
		out = c.zw.EncodeAll(body, out)
	}
	c.buf = out
	if len(out) >= len(frame) {
		return frame
	}
	out[5] = out[5]&^flagCodecMask | uint8(c.codec)<<1
	return out
}

// DefaultMaxRatio is the ratio cap a Decoder starts with (see
// [Decoder.SetMaxRatio]): a compressed body may declare at most 64 times
// its own size. Measured on frames as feedpub builds them (S2, zstd, zstd
// with a trained dictionary; 1 to 10,000 symbols; frame budgets of 1400
// bytes to 1 MiB), the highest ratio is 5.6 for natural-size messages and
// 10.1 for synthetic messages padded with zeros to 64 bytes; padding to
// 256 bytes reaches 33. Compression bombs run at thousands: S2 turns
// 1 MiB of zeros into 12 bytes, zstd into about 100.
const DefaultMaxRatio = 64

// codecSet is a set of codecs, bit c for codec c.
type codecSet uint8

func (s codecSet) has(c Codec) bool { return c <= CodecZstd && s&(1<<c) != 0 }

// allCodecs is every codec this package knows.
const allCodecs codecSet = 1<<CodecNone | 1<<CodecS2 | 1<<CodecZstd

// zstdSlack is room left after a zstd body's declared size in the output
// buffer: the decoder copies in 16-byte strides where the buffer has room
// for them, and falls back to exact copies where it has not.
const zstdSlack = 16

// Decoder decodes frames, compressed or not, into a buffer it reuses, so
// a receive loop allocates nothing per frame after warm-up. A Decoder is
// not safe for concurrent use: give each receive loop its own.
//
// A Decoder bounds the work a compressed frame can make it do, and checks
// the bounds before it inflates anything: it takes only the codecs it
// accepts ([Decoder.Accept]); it reads the inflated size the body declares
// (S2: the block's length prefix; zstd: the frame header's
// Frame_Content_Size, which it requires, in a body that must be exactly
// one zstd frame whose window is at most twice that size, or 1 KiB) and
// refuses one over MaxFrameLen or over its ratio cap times the body's
// size ([Decoder.SetMaxRatio]); and it inflates into a buffer of the
// declared size, which the body cannot overrun.
type Decoder struct {
	zr       *zstd.Decoder
	buf      []byte
	accept   codecSet
	maxRatio float64
}

// NewDecoder returns a Decoder that knows the given zstd dictionaries. It
// accepts every codec (none, S2 and zstd) and caps the compression ratio
// at DefaultMaxRatio; Accept and SetMaxRatio change that.
func NewDecoder(dictionaries ...[]byte) (*Decoder, error) {
	opts := []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxFrameLen),
		zstd.WithDecoderMaxWindow(MaxFrameLen), zstd.WithDecodeAllCapLimit(true)}
	if len(dictionaries) > 0 {
		opts = append(opts, zstd.WithDecoderDicts(dictionaries...))
	}
	zr, err := zstd.NewReader(nil, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: zstd: %w", ErrOption, err)
	}
	return &Decoder{zr: zr, accept: allCodecs, maxRatio: DefaultMaxRatio}, nil
}

// Accept makes d decode only frames in the given codecs, replacing what it
// accepted before (NewDecoder accepts all three). CodecNone is always
// accepted, listed or not: heartbeats, and frames that compression would
// not have made smaller, go out uncompressed from any publisher. So
// Accept() takes uncompressed frames only, and Accept(CodecS2) takes
// uncompressed and S2 frames. A frame in any other codec is rejected with
// ErrCodec before its body is read. Accept returns an error matching
// ErrOption, and changes nothing, if a codec is not one of the package's.
func (d *Decoder) Accept(codecs ...Codec) error {
	set := codecSet(1 << CodecNone)
	for _, c := range codecs {
		if !allCodecs.has(c) {
			return fmt.Errorf("%w: unknown codec %d", ErrOption, uint8(c))
		}
		set |= 1 << c
	}
	d.accept = set
	return nil
}

// Accepts reports whether d decodes frames in codec c.
func (d *Decoder) Accepts(c Codec) bool { return c == CodecNone || d.accept.has(c) }

// SetMaxRatio caps the compression ratio d accepts: a compressed body
// whose declared inflated size is more than r times the body's own size
// is rejected with ErrTooLarge before it is inflated. 0 removes the cap,
// leaving only the MaxFrameLen limit. r must be 0 or at least 1 (a body
// that inflates to less than its own size is never sent: the publisher
// sends such a frame uncompressed); SetMaxRatio returns an error matching
// ErrOption, and changes nothing, otherwise. NewDecoder starts with
// DefaultMaxRatio.
//
// With a cap of r, inflating costs about r bytes of output per byte
// received at most, so a subscriber's worst case is r times its receive
// rate. A feed that really compresses better than r (one padded with
// zeros to simulate large messages, say) needs a higher cap, or none.
func (d *Decoder) SetMaxRatio(r float64) error {
	if !(r == 0 || r >= 1) { // NaN too
		return fmt.Errorf("%w: compression ratio cap %v: want 0 (none) or at least 1", ErrOption, r)
	}
	d.maxRatio = r
	return nil
}

// MaxRatio returns d's compression ratio cap; 0 means none.
func (d *Decoder) MaxRatio() float64 { return d.maxRatio }

// Close releases the zstd decoder's resources. It is idempotent.
func (d *Decoder) Close() {
	if d.zr != nil {
		d.zr.Close()
		d.zr = nil
	}
}

// Decode is like the package's Decode, but it also undoes compression. f
// refers to b, or, for a compressed frame, to the Decoder's buffer, which
// the next call reuses.
//
// Before it inflates a compressed body, Decode rejects it with ErrCodec if
// d does not accept its codec, or, for zstd, if it is not exactly one
// zstd frame with a Frame_Content_Size; and with ErrTooLarge if the size
// it declares is over MaxFrameLen, or over d's ratio cap times its own
// size. The body is inflated into a buffer of the declared size.
func (d *Decoder) Decode(b []byte, f *Frame) error {
	if len(b) < HeaderLen || b[4] < MinVersion || b[4] > Version || codecOf(b[5]) == CodecNone {
		return Decode(b, f)
	}
	*f = Frame{}
	if len(b) > MaxFrameLen || string(b[:4]) != Magic {
		// Checked before inflating: what a decoder refuses uncompressed it
		// refuses compressed too, without spending the CPU.
		return Decode(b, f)
	}
	hlen := int(b[6]) | int(b[7])<<8
	if hlen < HeaderLen || hlen > len(b) {
		return fmt.Errorf("%w: header length %d in a frame of %d bytes", ErrHeader, hlen, len(b))
	}
	if b[5]&^flagsKnown != 0 {
		return fmt.Errorf("%w: unknown flag bits %#02x", ErrFlags, b[5]&^flagsKnown)
	}
	c := codecOf(b[5])
	if !allCodecs.has(c) {
		return fmt.Errorf("%w: codec %d", ErrCodec, c)
	}
	if !d.Accepts(c) {
		return fmt.Errorf("%w: %v body, a codec this decoder does not accept", ErrCodec, c)
	}
	// Only the body is compressed: an auth trailer stays as it was sent,
	// and goes back after the inflated body.
	body, trailer, err := splitAuth(b, hlen)
	if err != nil {
		return err
	}
	limit := MaxFrameLen - hlen - len(trailer)

	// The declared size, bounded before anything is inflated.
	var n uint64
	switch c {
	case CodecS2:
		v, err := s2.DecodedLen(body)
		if err != nil {
			return fmt.Errorf("%w: s2 body: %v", ErrCodec, err)
		}
		n = uint64(v)
	case CodecZstd:
		if d.zr == nil {
			return fmt.Errorf("%w: decoder closed", ErrCodec)
		}
		if n, err = zstdContentSize(body); err != nil {
			return err
		}
	}
	if n > uint64(limit) {
		return fmt.Errorf("%w: %v body of %d bytes declares %d bytes, limit %d", ErrTooLarge, c, len(body), n, limit)
	}
	if d.maxRatio > 0 && float64(n) > d.maxRatio*float64(len(body)) {
		return fmt.Errorf("%w: %v body of %d bytes declares %d bytes, a compression ratio of %.1f, over this decoder's cap of %g",
			ErrTooLarge, c, len(body), n, float64(n)/float64(len(body)), d.maxRatio)
	}

	// Inflate into a buffer of exactly the declared size (zstd gets a few
	// bytes of slack, which it may use as scratch but never as output).
	size := hlen + int(n)
	need := size + zstdSlack + len(trailer)
	if cap(d.buf) < need {
		d.buf = make([]byte, 0, max(need, min(2*cap(d.buf), MaxFrameLen+zstdSlack)))
	}
	out := d.buf[:hlen]
	copy(out, b[:hlen])
	switch c {
	case CodecS2:
		var dec []byte
		dec, err = s2.Decode(out[hlen:size:size], body)
		if err == nil && len(dec) != int(n) {
			err = fmt.Errorf("%d bytes decoded, %d declared", len(dec), n)
		}
		out = out[:size]
	case CodecZstd:
		// The decoder's cap limit (WithDecodeAllCapLimit) makes the
		// buffer's capacity a hard bound on the output: it fails rather
		// than grow it.
		var dec []byte
		dec, err = d.zr.DecodeAll(body, out[:hlen:size+zstdSlack])
		// Sizes and window passed the checks above, so any error is the
		// data's (ErrDecoderSizeExceeded: it would overrun its declared
		// size).
		switch {
		case err == nil && len(dec) != size:
			err = fmt.Errorf("%d bytes decoded, %d declared", len(dec)-hlen, n)
		case err == nil && &dec[0] != &out[0]:
			out = dec // not in d.buf after all: correct, if not free
		default:
			out = out[:size]
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %v body: %v", ErrCodec, c, err)
	}
	out = append(out, trailer...) // within d.buf's capacity: need counted it
	out[5] &^= flagCodecMask
	return Decode(out, f)
}

// Zstd frame limits (RFC 8878): the largest block, and the smallest
// window.
const (
	zstdMaxBlock  = 128 << 10
	zstdMinWindow = 1 << 10
)

// zstdContentSize returns the Frame_Content_Size of the zstd frame that
// body must be, exactly: one frame (not a skippable one) that declares its
// content size, with nothing after it. It walks the frame's block headers,
// not its data, so it costs a few nanoseconds per block.
//
// It also bounds what a block can make the decoder do before the decoder
// notices that the frame overruns its content size, which it checks only
// between blocks: a block inflates to at most the window (and 128 KiB),
// so the window may be at most twice the content size, or 1 KiB, the
// smallest window; a single-segment frame's window is its content size.
// Raw and RLE blocks, whose sizes are in their headers, may not add up to
// more than the content size.
//
// A window over MaxFrameLen or too wide for the content is ErrTooLarge;
// anything else amiss is ErrCodec.
func zstdContentSize(body []byte) (uint64, error) {
	var h zstd.Header
	if err := h.Decode(body); err != nil {
		return 0, fmt.Errorf("%w: zstd body: frame header: %v", ErrCodec, err)
	}
	fcs := h.FrameContentSize
	window := max(fcs, zstdMinWindow)
	switch {
	case h.Skippable:
		return 0, fmt.Errorf("%w: zstd body is a skippable frame, want one zstd frame", ErrCodec)
	case !h.HasFCS:
		return 0, fmt.Errorf("%w: zstd frame without a content size (Frame_Content_Size)", ErrCodec)
	case h.SingleSegment:
	case h.WindowSize > MaxFrameLen:
		return 0, fmt.Errorf("%w: zstd window of %d bytes, limit %d", ErrTooLarge, h.WindowSize, MaxFrameLen)
	case h.WindowSize > max(2*fcs, zstdMinWindow):
		return 0, fmt.Errorf("%w: zstd window of %d bytes for %d bytes of content, limit %d",
			ErrTooLarge, h.WindowSize, fcs, max(2*fcs, zstdMinWindow))
	default:
		window = h.WindowSize
	}
	maxBlock := int(min(window, zstdMaxBlock))
	p := h.HeaderSize
	known := uint64(0) // bytes of content in raw and RLE blocks
	for last := false; !last; {
		if len(body)-p < 3 {
			return 0, fmt.Errorf("%w: zstd frame truncated at byte %d of %d", ErrCodec, p, len(body))
		}
		bh := int(body[p]) | int(body[p+1])<<8 | int(body[p+2])<<16
		last = bh&1 != 0
		size, n := bh>>3, bh>>3 // size: content; n: bytes in the frame
		switch (bh >> 1) & 3 {
		case 0: // raw
			known += uint64(size)
		case 1: // RLE: one byte, repeated size times
			known += uint64(size)
			n = 1
		case 2: // compressed
		default:
			return 0, fmt.Errorf("%w: zstd block of reserved type at byte %d", ErrCodec, p)
		}
		if size > maxBlock {
			return 0, fmt.Errorf("%w: zstd block of %d bytes at byte %d, limit %d", ErrCodec, size, p, maxBlock)
		}
		if known > fcs {
			return 0, fmt.Errorf("%w: zstd blocks hold more than the frame's declared %d bytes", ErrCodec, fcs)
		}
		p += 3 + n
	}
	if h.HasCheckSum {
		p += 4
	}
	switch {
	case p > len(body):
		return 0, fmt.Errorf("%w: zstd frame of %d bytes truncated to %d", ErrCodec, p, len(body))
	case p < len(body):
		return 0, fmt.Errorf("%w: %d bytes after the zstd frame, want exactly one frame", ErrCodec, len(body)-p)
	}
	return fcs, nil
}

// TrainDictionary builds a zstd dictionary of at most size bytes from
// sample frames (whole frames, as sent uncompressed): their bodies are the
// training data.
func TrainDictionary(frames [][]byte, size int) ([]byte, error) {
	samples := make([][]byte, 0, len(frames))
	for _, fr := range frames {
		var f Frame
		if err := Decode(fr, &f); err != nil {
			return nil, fmt.Errorf("bus: training sample: %w", err)
		}
		if len(f.body) > 0 {
			samples = append(samples, f.body)
		}
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("%w: no messages to train a dictionary on", ErrOption)
	}
	d, err := dict.BuildZstdDict(samples, dict.Options{MaxDictSize: size, HashBytes: 6, ZstdLevel: zstd.SpeedFastest})
	if err != nil {
		return nil, fmt.Errorf("bus: training dictionary: %w", err)
	}
	return d, nil
}
