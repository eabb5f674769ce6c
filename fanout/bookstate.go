package fanout

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/feedbus/feedbus/bus"
)

// BookStateLen is the length of an encoded book state: everything a Book
// is made of, the exact 128-bit notional behind its VWAP included, so that
// a book restored from a recovery server's snapshot equals, field by
// field, one built from every message. Little-endian:
//
//	 0  8  bid price      24  8  volume         56  8  notional, high 64 bits
//	 8  8  ask price      32  8  messages       64  8  notional, low 64 bits
//	16  8  last price     40  8  quotes         72  4  bid size
//	                      48  8  trades         76  4  ask size
//	                                            80  4  last size
//	                                            84  8  last seq
//	                                            92  1  last side
const BookStateLen = 93

// ErrBookState is returned for a book state of the wrong length.
var ErrBookState = errors.New("fanout: bad book state")

// appendState appends b's state.
func (b *book) appendState(dst []byte) []byte {
	le := binary.LittleEndian
	dst = le.AppendUint64(dst, uint64(b.BidPrice))
	dst = le.AppendUint64(dst, uint64(b.AskPrice))
	dst = le.AppendUint64(dst, uint64(b.LastPrice))
	dst = le.AppendUint64(dst, b.Volume)
	dst = le.AppendUint64(dst, b.Messages)
	dst = le.AppendUint64(dst, b.Quotes)
	dst = le.AppendUint64(dst, b.Trades)
	dst = le.AppendUint64(dst, b.notionalHi)
	dst = le.AppendUint64(dst, b.notionalLo)
	dst = le.AppendUint32(dst, b.BidSize)
	dst = le.AppendUint32(dst, b.AskSize)
	dst = le.AppendUint32(dst, b.LastSize)
	dst = le.AppendUint64(dst, b.LastSeq)
	return append(dst, byte(b.LastSide))
}

// restore sets b to an encoded state; b keeps its symbol, worker and
// out-of-order count.
func (b *book) restore(state []byte) error {
	if len(state) != BookStateLen {
		return fmt.Errorf("%w: %d bytes, want %d", ErrBookState, len(state), BookStateLen)
	}
	le := binary.LittleEndian
	b.BidPrice = int64(le.Uint64(state[0:]))
	b.AskPrice = int64(le.Uint64(state[8:]))
	b.LastPrice = int64(le.Uint64(state[16:]))
	b.Volume = le.Uint64(state[24:])
	b.Messages = le.Uint64(state[32:])
	b.Quotes = le.Uint64(state[40:])
	b.Trades = le.Uint64(state[48:])
	b.notionalHi = le.Uint64(state[56:])
	b.notionalLo = le.Uint64(state[64:])
	b.BidSize = le.Uint32(state[72:])
	b.AskSize = le.Uint32(state[76:])
	b.LastSize = le.Uint32(state[80:])
	b.LastSeq = le.Uint64(state[84:])
	b.LastSide = bus.Side(state[92])
	return nil
}

// ParseBookState decodes an encoded book state (a KindBookState message's
// Body) into a Book for symbol, its VWAP worked out.
func ParseBookState(symbol []byte, state []byte) (Book, error) {
	b := book{Book: Book{Symbol: string(symbol)}}
	if err := b.restore(state); err != nil {
		return Book{}, err
	}
	return b.snapshot(), nil
}

// AppendStates calls fn with each book whose symbol starts with one of
// prefixes (every book if there are none) and its encoded state, one shard
// at a time under that shard's lock: fn must not call back into bs, and
// the state is valid only during the call. Each shard's books are a
// consistent view; across shards the view moves on as workers apply
// messages, so a caller that needs one point in time stops them first.
func (bs *Books) AppendStates(prefixes [][]byte, fn func(symbol, state []byte)) {
	var buf [BookStateLen]byte
	var key symKey // one copy for the whole walk: fn's symbol points into it
	for i := range bs.shards {
		sh := &bs.shards[i]
		sh.mu.Lock()
		for k, b := range sh.books {
			key = k
			sym := key.b[:key.n]
			if !bus.HasAnyPrefix(sym, prefixes) {
				continue
			}
			fn(sym, b.appendState(buf[:0]))
		}
		sh.mu.Unlock()
	}
}
