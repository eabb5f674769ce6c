package recovery

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
)

// The protocol, byte by byte, is docs/recovery.md. Every request and every
// reply is one ZeroMQ message, little-endian, starting with a 16-byte
// header: magic, version, type, two reserved bytes (zero), request id.
const (
	RequestMagic = "FBRQ"
	ReplyMagic   = "FBRS"
	Version      = 1
	HeaderLen    = 16

	// MaxPrefixes and bus.MaxSymbolLen bound a snapshot request.
	MaxPrefixes = 64
	// MaxRequestLen is the largest request a server reads.
	MaxRequestLen = HeaderLen + 8 + MaxPrefixes*(1+bus.MaxSymbolLen)
	// MaxReplyLen bounds every reply message: records are sent in chunks.
	MaxReplyLen = 64 << 10
	// MaxTextLen bounds an error reply's text.
	MaxTextLen = 512
)

// Op is a request's type.
type Op uint8

const (
	// OpSnapshot asks for the state of every symbol, or of the symbols
	// starting with one of the request's prefixes.
	OpSnapshot Op = 1
	// OpRetransmit asks for the messages First..Last of a session.
	OpRetransmit Op = 2
)

// Request is a client's request.
type Request struct {
	Op Op
	// ID is the client's: every reply to the request echoes it.
	ID     uint64
	Stream uint32
	// Prefixes (OpSnapshot) select the symbols; none means all.
	Prefixes [][]byte
	// Session, First and Last (OpRetransmit) name the messages wanted,
	// both ends included.
	Session, First, Last uint64
}

// AppendRequest appends r's encoding to dst.
func AppendRequest(dst []byte, r *Request) []byte {
	dst = appendHeader(dst, RequestMagic, uint8(r.Op), r.ID)
	dst = binary.LittleEndian.AppendUint32(dst, r.Stream)
	switch r.Op {
	case OpSnapshot:
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(r.Prefixes)))
		for _, p := range r.Prefixes {
			dst = append(dst, uint8(len(p)))
			dst = append(dst, p...)
		}
	case OpRetransmit:
		dst = binary.LittleEndian.AppendUint64(dst, r.Session)
		dst = binary.LittleEndian.AppendUint64(dst, r.First)
		dst = binary.LittleEndian.AppendUint64(dst, r.Last)
	}
	return dst
}

// ParseRequest decodes b into r. r.Prefixes alias b. The error wraps
// ErrBadRequest and says what was wrong; when the header was readable, r.ID
// is set, so the server can answer with an error reply.
func ParseRequest(b []byte, r *Request) error {
	prefixes := r.Prefixes[:0]
	*r = Request{}
	typ, id, err := parseHeader(b, RequestMagic, MaxRequestLen)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	r.ID, r.Op = id, Op(typ)
	p := b[HeaderLen:]
	if len(p) < 4 {
		return fmt.Errorf("%w: truncated", ErrBadRequest)
	}
	r.Stream = binary.LittleEndian.Uint32(p)
	p = p[4:]
	switch r.Op {
	case OpSnapshot:
		if len(p) < 2 {
			return fmt.Errorf("%w: truncated", ErrBadRequest)
		}
		n := int(binary.LittleEndian.Uint16(p))
		p = p[2:]
		if n > MaxPrefixes {
			return fmt.Errorf("%w: %d prefixes, at most %d", ErrBadRequest, n, MaxPrefixes)
		}
		for range n {
			if len(p) < 1 || len(p) < 1+int(p[0]) {
				return fmt.Errorf("%w: truncated prefix", ErrBadRequest)
			}
			l := int(p[0])
			if l == 0 || l > bus.MaxSymbolLen {
				return fmt.Errorf("%w: prefix of %d bytes, want 1-%d", ErrBadRequest, l, bus.MaxSymbolLen)
			}
			prefixes = append(prefixes, p[1:1+l:1+l])
			p = p[1+l:]
		}
		r.Prefixes = prefixes
	case OpRetransmit:
		if len(p) < 24 {
			return fmt.Errorf("%w: truncated", ErrBadRequest)
		}
		r.Session = binary.LittleEndian.Uint64(p)
		r.First = binary.LittleEndian.Uint64(p[8:])
		r.Last = binary.LittleEndian.Uint64(p[16:])
		p = p[24:]
		if r.First == 0 || r.Last < r.First {
			return fmt.Errorf("%w: range %d-%d", ErrBadRequest, r.First, r.Last)
		}
	default:
		return fmt.Errorf("%w: unknown request type %d", ErrBadRequest, r.Op)
	}
	if len(p) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadRequest, len(p))
	}
	return nil
}

// ReplyType is a reply's type.
type ReplyType uint8

const (
	// ReplyRecords carries snapshot records (AppendRecord).
	ReplyRecords ReplyType = 1
	// ReplySnapshotEnd ends a snapshot: Session, Stream, Seq, Records.
	ReplySnapshotEnd ReplyType = 2
	// ReplyFrame carries one feedbus frame (docs/wire.md) of retransmitted
	// messages, as the publisher numbered them.
	ReplyFrame ReplyType = 3
	// ReplyRetransmitEnd ends a retransmission: Status, Next, Held.
	ReplyRetransmitEnd ReplyType = 4
	// ReplyError refuses a request: Code and Text.
	ReplyError ReplyType = 5
)

// Status says how much of a retransmission request was served.
type Status uint8

const (
	// Complete: every message asked for was sent.
	Complete Status = 0
	// Limited: the per-request limit was reached; ask again from Next.
	Limited Status = 1
	// Partial: the server no longer holds (or never had) some of the
	// messages; those it had were sent. Held says what it holds now.
	Partial Status = 2
)

func (s Status) String() string {
	switch s {
	case Complete:
		return "complete"
	case Limited:
		return "limited"
	case Partial:
		return "partial"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Code is an error reply's reason.
type Code uint8

const (
	CodeBadRequest     Code = 1 // the request did not parse
	CodeUnknownStream  Code = 2 // the server does not follow that stream
	CodeUnknownSession Code = 3 // no message of that session is held
	CodeBusy           Code = 4 // too many requests in progress: ask the other server
	CodeNotReady       Code = 5 // the server has not heard the feed yet
	CodeUnavailable    Code = 6 // (client side) no server answered
)

func (c Code) String() string {
	switch c {
	case CodeBadRequest:
		return "bad request"
	case CodeUnknownStream:
		return "unknown stream"
	case CodeUnknownSession:
		return "unknown session"
	case CodeBusy:
		return "busy"
	case CodeNotReady:
		return "not ready"
	case CodeUnavailable:
		return "unavailable"
	}
	return fmt.Sprintf("code(%d)", uint8(c))
}

// Reply is one reply message.
type Reply struct {
	Type ReplyType
	ID   uint64
	// Body is the records (ReplyRecords) or the frame (ReplyFrame). It
	// aliases the parsed message.
	Body []byte
	// Records counts ReplyRecords' records, or a snapshot's (SnapshotEnd).
	Records uint32
	// Session, Stream and Seq (ReplySnapshotEnd): the snapshot reflects
	// every message of the session up to and including Seq.
	Session uint64
	Stream  uint32
	Seq     uint64
	// Status, Next and Held (ReplyRetransmitEnd): Next is the first
	// message not sent; Held the first and last the server now holds of
	// the session (0, 0 for none).
	Status Status
	Next   uint64
	Held   [2]uint64
	// Code and Text (ReplyError).
	Code Code
	Text string
}

// AppendReply appends r's encoding. A ReplyRecords' Body must be records
// appended with AppendRecord, and Records their count.
func AppendReply(dst []byte, r *Reply) []byte {
	le := binary.LittleEndian
	dst = appendHeader(dst, ReplyMagic, uint8(r.Type), r.ID)
	switch r.Type {
	case ReplyRecords:
		dst = le.AppendUint32(dst, r.Records)
		dst = append(dst, r.Body...)
	case ReplySnapshotEnd:
		dst = le.AppendUint64(dst, r.Session)
		dst = le.AppendUint32(dst, r.Stream)
		dst = le.AppendUint64(dst, r.Seq)
		dst = le.AppendUint32(dst, r.Records)
	case ReplyFrame:
		dst = append(dst, r.Body...)
	case ReplyRetransmitEnd:
		dst = append(dst, uint8(r.Status))
		dst = le.AppendUint64(dst, r.Next)
		dst = le.AppendUint64(dst, r.Held[0])
		dst = le.AppendUint64(dst, r.Held[1])
	case ReplyError:
		text := r.Text
		if len(text) > MaxTextLen {
			text = text[:MaxTextLen]
		}
		dst = append(dst, uint8(r.Code))
		dst = le.AppendUint16(dst, uint16(len(text)))
		dst = append(dst, text...)
	}
	return dst
}

// ParseReply decodes b into r; r.Body aliases b. Records are checked
// (ParseRecords) before ParseReply returns. The error wraps ErrBadReply.
func ParseReply(b []byte, r *Reply) error {
	le := binary.LittleEndian
	*r = Reply{}
	typ, id, err := parseHeader(b, ReplyMagic, HeaderLen+bus.MaxFrameLen)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadReply, err)
	}
	r.Type, r.ID = ReplyType(typ), id
	p := b[HeaderLen:]
	short := func(n int) error {
		if len(p) != n {
			return fmt.Errorf("%w: %v of %d bytes, want %d", ErrBadReply, r.Type, len(p), n)
		}
		return nil
	}
	switch r.Type {
	case ReplyRecords:
		if len(p) < 4 {
			return fmt.Errorf("%w: truncated records", ErrBadReply)
		}
		r.Records, r.Body = le.Uint32(p), p[4:]
		n, err := countRecords(r.Body)
		if err != nil {
			return err
		}
		if n != int(r.Records) {
			return fmt.Errorf("%w: %d records, header says %d", ErrBadReply, n, r.Records)
		}
	case ReplySnapshotEnd:
		if err := short(24); err != nil {
			return err
		}
		r.Session, r.Stream, r.Seq, r.Records = le.Uint64(p), le.Uint32(p[8:]), le.Uint64(p[12:]), le.Uint32(p[20:])
	case ReplyFrame:
		if len(p) < bus.HeaderLen {
			return fmt.Errorf("%w: frame of %d bytes", ErrBadReply, len(p))
		}
		r.Body = p
	case ReplyRetransmitEnd:
		if err := short(25); err != nil {
			return err
		}
		r.Status, r.Next = Status(p[0]), le.Uint64(p[1:])
		r.Held = [2]uint64{le.Uint64(p[9:]), le.Uint64(p[17:])}
		if r.Status > Partial {
			return fmt.Errorf("%w: %v", ErrBadReply, r.Status)
		}
	case ReplyError:
		if len(p) < 3 || len(p) != 3+int(le.Uint16(p[1:])) || len(p) > 3+MaxTextLen {
			return fmt.Errorf("%w: error reply of %d bytes", ErrBadReply, len(p))
		}
		r.Code, r.Text = Code(p[0]), string(p[3:])
		if !utf8.ValidString(r.Text) {
			r.Text = fmt.Sprintf("%q", r.Text)
		}
	default:
		return fmt.Errorf("%w: unknown reply type %d", ErrBadReply, r.Type)
	}
	return nil
}

func (t ReplyType) String() string {
	switch t {
	case ReplyRecords:
		return "records"
	case ReplySnapshotEnd:
		return "snapshot end"
	case ReplyFrame:
		return "frame"
	case ReplyRetransmitEnd:
		return "retransmit end"
	case ReplyError:
		return "error"
	}
	return fmt.Sprintf("reply(%d)", uint8(t))
}

// Record is one snapshot record: a symbol's book (Kind bus.KindBookState,
// Body its encoded state, fanout.BookStateLen bytes) or the last message of
// an application kind (Kind 128-255, Body the message's body). Seq is the
// sequence number the record reflects.
type Record struct {
	Kind   bus.Kind
	Symbol []byte
	Seq    uint64
	Body   []byte
}

// recordFixed is a record's length without symbol and body: length (2),
// kind (1), symbol length (1), seq (8).
const recordFixed = 12

// RecordLen is the encoded length of rec.
func RecordLen(rec *Record) int { return recordFixed + len(rec.Symbol) + len(rec.Body) }

// AppendRecord appends rec's encoding to dst.
func AppendRecord(dst []byte, rec *Record) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, uint16(RecordLen(rec)))
	dst = append(dst, uint8(rec.Kind), uint8(len(rec.Symbol)))
	dst = append(dst, rec.Symbol...)
	dst = binary.LittleEndian.AppendUint64(dst, rec.Seq)
	return append(dst, rec.Body...)
}

// NextRecord decodes the first record of b into rec (aliasing b) and
// returns the rest. b must have been checked by ParseReply.
func NextRecord(b []byte, rec *Record) []byte {
	n := int(binary.LittleEndian.Uint16(b))
	rec.Kind = bus.Kind(b[2])
	sl := int(b[3])
	rec.Symbol = b[4 : 4+sl : 4+sl]
	rec.Seq = binary.LittleEndian.Uint64(b[4+sl:])
	rec.Body = b[12+sl : n : n]
	return b[n:]
}

// countRecords validates a records body and counts its records.
func countRecords(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		if len(b) < recordFixed {
			return n, fmt.Errorf("%w: truncated record", ErrBadReply)
		}
		l, kind, sl := int(binary.LittleEndian.Uint16(b)), bus.Kind(b[2]), int(b[3])
		if l < recordFixed+sl || l > len(b) {
			return n, fmt.Errorf("%w: record of %d bytes", ErrBadReply, l)
		}
		if sl == 0 || sl > bus.MaxSymbolLen {
			return n, fmt.Errorf("%w: record symbol of %d bytes", ErrBadReply, sl)
		}
		switch {
		case kind == bus.KindBookState:
			if l != recordFixed+sl+fanout.BookStateLen {
				return n, fmt.Errorf("%w: book state record of %d bytes", ErrBadReply, l)
			}
		case kind.IsApp():
		default:
			return n, fmt.Errorf("%w: record of %v", ErrBadReply, kind)
		}
		b = b[l:]
		n++
	}
	return n, nil
}

func appendHeader(dst []byte, magic string, typ uint8, id uint64) []byte {
	dst = append(dst, magic...)
	dst = append(dst, Version, typ, 0, 0)
	return binary.LittleEndian.AppendUint64(dst, id)
}

func parseHeader(b []byte, magic string, max int) (typ uint8, id uint64, err error) {
	switch {
	case len(b) < HeaderLen:
		return 0, 0, fmt.Errorf("%d bytes, header needs %d", len(b), HeaderLen)
	case len(b) > max:
		return 0, 0, fmt.Errorf("%d bytes, limit %d", len(b), max)
	case string(b[:4]) != magic:
		return 0, 0, fmt.Errorf("magic % x, want %q", b[:4], magic)
	case b[4] != Version:
		return 0, 0, fmt.Errorf("version %d, want %d", b[4], Version)
	}
	id = binary.LittleEndian.Uint64(b[8:])
	if b[6] != 0 || b[7] != 0 {
		return b[5], id, fmt.Errorf("reserved bytes %02x %02x, want 0", b[6], b[7])
	}
	return b[5], id, nil
}
