package bus

import (
	"errors"
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
		opts := []zstd.EOption{zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false)}
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

// Decoder decodes frames, compressed or not, into a buffer it reuses, so
// a receive loop allocates nothing per frame after warm-up. A Decoder is
// not safe for concurrent use: give each receive loop its own.
type Decoder struct {
	zr  *zstd.Decoder
	buf []byte
}

// NewDecoder returns a Decoder that knows the given zstd dictionaries.
func NewDecoder(dictionaries ...[]byte) (*Decoder, error) {
	opts := []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxFrameLen),
		zstd.WithDecoderMaxWindow(MaxFrameLen)}
	if len(dictionaries) > 0 {
		opts = append(opts, zstd.WithDecoderDicts(dictionaries...))
	}
	zr, err := zstd.NewReader(nil, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: zstd: %w", ErrOption, err)
	}
	return &Decoder{zr: zr}, nil
}

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
	body := b[hlen:]
	out := append(d.buf[:0], b[:hlen]...)
	var err error
	switch c := codecOf(b[5]); c {
	case CodecS2:
		n, lerr := s2.DecodedLen(body)
		switch {
		case lerr != nil:
			err = lerr
		case n > MaxFrameLen-hlen:
			return fmt.Errorf("%w: s2 body of %d bytes, limit %d", ErrTooLarge, n, MaxFrameLen)
		default:
			if cap(out)-hlen < n {
				out = append(out, make([]byte, n)...)[:hlen]
			}
			var dec []byte
			dec, err = s2.Decode(out[hlen:hlen+n], body)
			out = out[:hlen+len(dec)]
		}
	case CodecZstd:
		if d.zr == nil {
			return fmt.Errorf("%w: decoder closed", ErrCodec)
		}
		out, err = d.zr.DecodeAll(body, out)
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return fmt.Errorf("%w: zstd body over %d bytes", ErrTooLarge, MaxFrameLen)
		}
	default:
		return fmt.Errorf("%w: codec %d", ErrCodec, c)
	}
	if err != nil {
		return fmt.Errorf("%w: %v body: %v", ErrCodec, codecOf(b[5]), err)
	}
	d.buf = out
	out[5] &^= flagCodecMask
	return Decode(out, f)
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
