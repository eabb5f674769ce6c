package bus

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Wire format, version 2. Every integer is little-endian. docs/wire.md
// describes it byte by byte; keep the two in step. Version 2 is version 1
// plus application kinds (128-255) with an opaque body, and a rule that a
// reader skips reserved kinds it does not know instead of rejecting the
// frame; a version 2 reader reads version 1 frames unchanged.
//
// A frame is one ZeroMQ message: a fixed header followed by Count market
// messages whose sequence numbers run from FirstSeq to FirstSeq+Count-1.
const (
	// Magic opens every frame: "FBUS".
	Magic = "FBUS"
	// Version is the wire version this package writes. It reads this one
	// and MinVersion.
	Version = 2
	// MinVersion is the oldest wire version this package reads.
	MinVersion = 1
	// HeaderLen is the length of a version 1 and 2 header. The header carries its
	// own length so a later version can append fields that older readers skip.
	HeaderLen = 40
	// MaxFrameLen bounds a frame. Frames are normally sized to fit a few
	// PGM TPDUs; anything near this limit is hostile or broken.
	MaxFrameLen = 1 << 20
	// MaxSymbolLen bounds a symbol's length in bytes.
	MaxSymbolLen = 32
	// MaxMessageLen bounds one encoded message, padding included.
	MaxMessageLen = 1<<16 - 1

	msgFixedLen = 4               // length (2), kind (1), symbol length (1)
	minMsgLen   = msgFixedLen + 1 // an application kind with a 1-byte symbol and no body
	quoteLen    = 24
	tradeLen    = 16
)

// Frame flags.
const (
	// FlagHeartbeat marks a frame with no messages that a publisher sends when
	// it has been idle; its FirstSeq is the sequence number of the next
	// message, so a subscriber can tell a quiet feed from a dead one and see
	// a gap without waiting for data.
	FlagHeartbeat uint8 = 1 << 0
	// flagCodecMask selects the body codec (bits 1-3): 0 none, 1 S2, 2 zstd
	// (see Codec); 3-7 are reserved.
	flagCodecMask uint8 = 0x7 << 1
	// FlagEnd marks the end of a session: a heartbeat (FlagHeartbeat, no
	// messages) that a publisher sends when it closes cleanly, as MoldUDP64
	// does. Its FirstSeq is one past the session's last message, so a
	// subscriber still sees a tail gap, and knows no more will come.
	FlagEnd uint8 = 1 << 4
	// FlagAuth marks an authenticated frame: the last AuthTrailerLen bytes
	// are an auth trailer (a key id and a MAC over every byte before the
	// MAC), not body. Package auth writes and checks the trailer; Decode
	// only sets it aside. Only a signer sets this bit: AppendHeader clears
	// it, so a re-encoded header never claims a trailer it lacks. A reader
	// that predates the flag rejects the frame (ErrFlags).
	FlagAuth uint8 = 1 << 5
	// flagsKnown are the bits a version 2 reader understands; any other
	// bit set is rejected so a frame is never half understood.
	flagsKnown = FlagHeartbeat | flagCodecMask | FlagEnd | FlagAuth
)

// AuthTrailerLen is the length of the auth trailer that ends a frame with
// FlagAuth: a key id (u32) and a 16-byte tag. See docs/wire.md §12.
const AuthTrailerLen = 4 + 16

// Kind is the type of a market message.
type Kind uint8

// Message kinds. Kinds 1 to 127 are feedbus's own: 1 and 2 are defined,
// the rest are reserved for later versions, and a reader skips a reserved
// kind it does not know. Kinds 128 to 255 belong to applications: their
// payload is an opaque Body that feedbus carries without reading.
const (
	KindQuote Kind = 1
	KindTrade Kind = 2
	// KindBookState is a symbol's whole last-value book, as a recovery
	// server's snapshot carries it (docs/recovery.md). It never travels
	// on a line: there, like every reserved kind, it would be skipped.
	KindBookState Kind = 3
	// KindAppFirst is the first application kind.
	KindAppFirst Kind = 128
)

// IsApp reports whether k is an application kind (128-255).
func (k Kind) IsApp() bool { return k >= KindAppFirst }

// Known reports whether this package can hand a message of kind k on: a
// quote, a trade or an application kind. A reserved kind (3-127) comes
// from a newer writer; a reader sequences it and skips it.
func (k Kind) Known() bool { return k == KindQuote || k == KindTrade || k.IsApp() }

func (k Kind) String() string {
	switch k {
	case KindQuote:
		return "quote"
	case KindTrade:
		return "trade"
	case KindBookState:
		return "book state"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Side is the aggressor side of a trade.
type Side uint8

// Trade sides.
const (
	SideUnknown Side = 0
	SideBuy     Side = 1
	SideSell    Side = 2
)

// Header is a frame's fixed header.
type Header struct {
	Version  uint8
	Flags    uint8
	Session  uint64 // random, new on every publisher start
	Stream   uint32
	Count    uint32 // messages in the frame; 0 for a heartbeat
	FirstSeq uint64 // sequence number of the first message (of the next one for a heartbeat)
	SendTime int64  // publisher's wall clock at send, ns since the Unix epoch
}

// Heartbeat reports whether the frame is a heartbeat.
func (h *Header) Heartbeat() bool { return h.Flags&FlagHeartbeat != 0 }

// End reports whether the frame ends its session (see FlagEnd).
func (h *Header) End() bool { return h.Flags&FlagEnd != 0 }

// Authenticated reports whether the frame carries an auth trailer (see
// FlagAuth). It says nothing about whether the trailer is good: only a
// verifier with the key can tell.
func (h *Header) Authenticated() bool { return h.Flags&FlagAuth != 0 }

// Message is one market message. Prices are fixed point, in units of 1e-8.
// When decoded, Symbol aliases the frame's buffer: copy it to keep it.
type Message struct {
	Kind   Kind
	Symbol []byte

	// Quote fields.
	BidPrice, AskPrice int64
	BidSize, AskSize   uint32

	// Trade fields.
	Price int64
	Size  uint32
	Side  Side

	// Body is the opaque payload of an application kind (KindAppFirst and
	// up); nil for quotes and trades. When decoded it aliases the frame's
	// buffer: copy it to keep it.
	Body []byte

	// Len is the encoded length, padding included. When encoding, a Len
	// larger than the natural length pads the message to Len bytes (to
	// simulate larger payloads); a smaller one is ignored.
	Len int
}

// PriceScale is the number of price units in 1.0.
const PriceScale = 100_000_000

// naturalLen is the encoded length of m without padding.
func (m *Message) naturalLen() int {
	n := msgFixedLen + len(m.Symbol)
	switch m.Kind {
	case KindQuote:
		return n + quoteLen
	case KindTrade:
		return n + tradeLen
	}
	return n + len(m.Body)
}

// EncodedLen is the number of bytes AppendMessage writes for m. Len pads
// quotes and trades only: an application kind's body is everything after
// its symbol, so it cannot be padded.
func (m *Message) EncodedLen() int {
	n := m.naturalLen()
	if m.Len > n && !m.Kind.IsApp() {
		n = m.Len
	}
	return n
}

// AppendHeader appends h's encoding to dst. Version and header length are
// always written as this package's. FlagAuth is never written: a frame
// gets it together with its trailer, from a signer (package auth).
func AppendHeader(dst []byte, h *Header) []byte {
	dst = append(dst, Magic...)
	dst = append(dst, Version, h.Flags&^FlagAuth)
	dst = binary.LittleEndian.AppendUint16(dst, HeaderLen)
	dst = binary.LittleEndian.AppendUint64(dst, h.Session)
	dst = binary.LittleEndian.AppendUint32(dst, h.Stream)
	dst = binary.LittleEndian.AppendUint32(dst, h.Count)
	dst = binary.LittleEndian.AppendUint64(dst, h.FirstSeq)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(h.SendTime))
	return dst
}

// AppendMessage appends m's encoding to dst. It returns an error, and dst
// unchanged, for a message that could not be decoded again: a kind that is
// neither a quote, a trade nor an application kind, an empty or too long
// symbol, or a length over MaxMessageLen.
func AppendMessage(dst []byte, m *Message) ([]byte, error) {
	if m.Kind != KindQuote && m.Kind != KindTrade && !m.Kind.IsApp() {
		return dst, fmt.Errorf("%w: %v (want quote, trade or an application kind 128-255)", ErrKind, m.Kind)
	}
	if len(m.Symbol) == 0 || len(m.Symbol) > MaxSymbolLen {
		return dst, fmt.Errorf("%w: %d bytes", ErrSymbol, len(m.Symbol))
	}
	n := m.EncodedLen()
	if n > MaxMessageLen {
		return dst, fmt.Errorf("%w: message of %d bytes", ErrTooLarge, n)
	}
	start := len(dst)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(n))
	dst = append(dst, byte(m.Kind), byte(len(m.Symbol)))
	dst = append(dst, m.Symbol...)
	switch m.Kind {
	case KindQuote:
		dst = binary.LittleEndian.AppendUint64(dst, uint64(m.BidPrice))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(m.AskPrice))
		dst = binary.LittleEndian.AppendUint32(dst, m.BidSize)
		dst = binary.LittleEndian.AppendUint32(dst, m.AskSize)
	case KindTrade:
		dst = binary.LittleEndian.AppendUint64(dst, uint64(m.Price))
		dst = binary.LittleEndian.AppendUint32(dst, m.Size)
		dst = append(dst, byte(m.Side), 0, 0, 0)
	default:
		dst = append(dst, m.Body...)
	}
	if pad := n - (len(dst) - start); pad > 0 {
		dst = append(dst, make([]byte, pad)...) // no allocation: the compiler clears in place
	}
	return dst, nil
}

// Frame is a decoded frame. Decode fills it in place and Next walks its
// messages, so a receive loop can reuse one Frame and one Message for
// every frame without allocating.
type Frame struct {
	Header
	body []byte
	off  int
	last int // offset of the message Next returned last
	next uint64
}

// Decode parses and validates b into f. Every message is checked before
// Decode returns, so Next cannot fail afterwards. f keeps references into
// b: b must not change while f is in use. The error, if any, wraps one of
// the package's sentinel errors and names what was wrong.
func Decode(b []byte, f *Frame) error {
	*f = Frame{}
	if len(b) < HeaderLen {
		return fmt.Errorf("%w: %d bytes, header needs %d", ErrTruncated, len(b), HeaderLen)
	}
	if len(b) > MaxFrameLen {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxFrameLen)
	}
	if string(b[:4]) != Magic {
		return fmt.Errorf("%w: % x", ErrMagic, b[:4])
	}
	if b[4] < MinVersion || b[4] > Version {
		return fmt.Errorf("%w: %d, want %d to %d", ErrVersion, b[4], MinVersion, Version)
	}
	flags := b[5]
	if flags&^flagsKnown != 0 {
		return fmt.Errorf("%w: unknown flag bits %#02x", ErrFlags, flags&^flagsKnown)
	}
	if flags&flagCodecMask != 0 {
		return fmt.Errorf("%w: codec %d", ErrCodec, (flags&flagCodecMask)>>1)
	}
	hlen := int(binary.LittleEndian.Uint16(b[6:]))
	if hlen < HeaderLen || hlen > len(b) {
		return fmt.Errorf("%w: header length %d in a frame of %d bytes", ErrHeader, hlen, len(b))
	}
	h := Header{
		Version:  b[4],
		Flags:    flags,
		Session:  binary.LittleEndian.Uint64(b[8:]),
		Stream:   binary.LittleEndian.Uint32(b[16:]),
		Count:    binary.LittleEndian.Uint32(b[20:]),
		FirstSeq: binary.LittleEndian.Uint64(b[24:]),
		SendTime: int64(binary.LittleEndian.Uint64(b[32:])),
	}
	if h.FirstSeq == 0 {
		return fmt.Errorf("%w: first sequence number 0", ErrHeader)
	}
	if h.FirstSeq+uint64(h.Count) < h.FirstSeq {
		return fmt.Errorf("%w: sequence %d+%d overflows", ErrHeader, h.FirstSeq, h.Count)
	}
	body, _, err := splitAuth(b, hlen)
	if err != nil {
		return err
	}
	if h.End() && !h.Heartbeat() {
		return fmt.Errorf("%w: end of session on a data frame", ErrHeader)
	}
	if h.Heartbeat() {
		if h.Count != 0 || len(body) != 0 {
			return fmt.Errorf("%w: heartbeat with %d messages and %d body bytes", ErrHeader, h.Count, len(body))
		}
	}
	// A message takes at least minMsgLen bytes, so a count the body cannot
	// hold is caught before walking it.
	if uint64(h.Count)*minMsgLen > uint64(len(body)) {
		return fmt.Errorf("%w: %d messages cannot fit in %d body bytes", ErrTruncated, h.Count, len(body))
	}
	off := 0
	for i := uint32(0); i < h.Count; i++ {
		n, err := checkMessage(body[off:])
		if err != nil {
			return fmt.Errorf("message %d at offset %d: %w", i, hlen+off, err)
		}
		off += n
	}
	if off != len(body) {
		return fmt.Errorf("%w: %d bytes after %d messages", ErrTrailing, len(body)-off, h.Count)
	}
	f.Header = h
	f.body = body
	f.next = h.FirstSeq
	return nil
}

// splitAuth splits frame b, whose header is hlen bytes long (already
// checked: HeaderLen <= hlen <= len(b)), into its body and its auth
// trailer. Without FlagAuth the body is everything after the header and
// the trailer is empty. With it, the trailer is the last AuthTrailerLen
// bytes, and a frame too short to hold one is ErrTruncated. The body is
// as on the wire: compressed if the codec bits say so. Decoder.Decode
// inflates only the body and puts the trailer back after it.
func splitAuth(b []byte, hlen int) (body, trailer []byte, err error) {
	if b[5]&FlagAuth == 0 {
		return b[hlen:], nil, nil
	}
	if len(b)-hlen < AuthTrailerLen {
		return nil, nil, fmt.Errorf("%w: authenticated frame with %d bytes after its %d-byte header, the auth trailer needs %d",
			ErrTruncated, len(b)-hlen, hlen, AuthTrailerLen)
	}
	end := len(b) - AuthTrailerLen
	return b[hlen:end:end], b[end:], nil
}

// checkMessage validates the message at the start of b and returns its length.
func checkMessage(b []byte) (int, error) {
	if len(b) < msgFixedLen {
		return 0, fmt.Errorf("%w: %d bytes left, message header needs %d", ErrTruncated, len(b), msgFixedLen)
	}
	n := int(binary.LittleEndian.Uint16(b))
	kind := Kind(b[2])
	symLen := int(b[3])
	if symLen == 0 || symLen > MaxSymbolLen {
		return 0, fmt.Errorf("%w: symbol length %d", ErrSymbol, symLen)
	}
	need := msgFixedLen + symLen
	switch kind {
	case 0:
		return 0, fmt.Errorf("%w: 0", ErrKind)
	case KindQuote:
		need += quoteLen
	case KindTrade:
		need += tradeLen
	}
	// Any other kind is an application kind or a reserved one: its body is
	// opaque here, and Next hands it on (application) or the caller skips
	// it (reserved), so the frame stays readable.
	if n < need {
		return 0, fmt.Errorf("%w: %v length %d, needs at least %d", ErrTruncated, kind, n, need)
	}
	if n > len(b) {
		return 0, fmt.Errorf("%w: %v length %d, %d bytes left", ErrTruncated, kind, n, len(b))
	}
	return n, nil
}

// Next decodes the next message into m and returns its sequence number. It
// returns false when the frame has no more messages. Every message is
// returned, reserved kinds included: each holds a sequence number, so the
// caller sequences it and then skips what it cannot use (see Kind.Known).
func (f *Frame) Next(m *Message) (seq uint64, ok bool) {
	if f.off >= len(f.body) {
		return 0, false
	}
	b := f.body[f.off:]
	n := int(binary.LittleEndian.Uint16(b))
	m.Kind = Kind(b[2])
	symLen := int(b[3])
	m.Symbol = b[4 : 4+symLen : 4+symLen]
	p := b[4+symLen : n : n]
	switch m.Kind {
	case KindQuote:
		m.BidPrice = int64(binary.LittleEndian.Uint64(p))
		m.AskPrice = int64(binary.LittleEndian.Uint64(p[8:]))
		m.BidSize = binary.LittleEndian.Uint32(p[16:])
		m.AskSize = binary.LittleEndian.Uint32(p[20:])
		m.Price, m.Size, m.Side, m.Body = 0, 0, SideUnknown, nil
	case KindTrade:
		m.Price = int64(binary.LittleEndian.Uint64(p))
		m.Size = binary.LittleEndian.Uint32(p[8:])
		m.Side = Side(p[12])
		m.BidPrice, m.AskPrice, m.BidSize, m.AskSize, m.Body = 0, 0, 0, 0, nil
	default:
		m.Body = p
		m.BidPrice, m.AskPrice, m.BidSize, m.AskSize = 0, 0, 0, 0
		m.Price, m.Size, m.Side = 0, 0, SideUnknown
	}
	m.Len = n
	f.last = f.off
	f.off += n
	seq = f.next
	f.next++
	return seq, true
}

// HasAnyPrefix reports whether symbol starts with one of prefixes, or
// whether prefixes is empty: the rule of topic filters and of snapshot
// subtrees alike.
func HasAnyPrefix(symbol []byte, prefixes [][]byte) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if bytes.HasPrefix(symbol, p) {
			return true
		}
	}
	return false
}

// LastEncoded returns the encoded bytes of the message Next returned last,
// padding included. It aliases the frame's buffer.
func (f *Frame) LastEncoded() []byte { return f.body[f.last:f.off:f.off] }

// FrameWriter builds frames in a buffer it reuses, so a publisher allocates
// nothing per frame once the buffer has grown to the frame budget.
// A FrameWriter is not safe for concurrent use.
type FrameWriter struct {
	buf   []byte
	count uint32
}

// Begin starts a new frame with h's session, stream, flags and first
// sequence number, discarding any frame in progress.
func (w *FrameWriter) Begin(h *Header) {
	w.buf = AppendHeader(w.buf[:0], h)
	w.count = 0
}

// Add appends one message to the frame in progress.
func (w *FrameWriter) Add(m *Message) error {
	if len(w.buf) == 0 {
		return fmt.Errorf("%w: Add before Begin", ErrHeader)
	}
	b, err := AppendMessage(w.buf, m)
	if err != nil {
		return err
	}
	w.buf = b
	w.count++
	return nil
}

// Len is the current length of the frame in bytes.
func (w *FrameWriter) Len() int { return len(w.buf) }

// Count is the number of messages in the frame in progress.
func (w *FrameWriter) Count() uint32 { return w.count }

// Finish stamps the message count and the send time and returns the frame.
// The returned slice is valid until the next Begin.
func (w *FrameWriter) Finish(sendTime int64) []byte {
	binary.LittleEndian.PutUint32(w.buf[20:], w.count)
	binary.LittleEndian.PutUint64(w.buf[32:], uint64(sendTime))
	return w.buf
}
