package cache

import (
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/recovery"
)

// apps keeps the last message of each application kind (128-255) of each
// symbol, for snapshots: an application's kind is opaque to feedbus, so
// "the last one" is all a cache can say of it (a last-value cache, as the
// Clone pattern's). It is bounded three ways, each refusal counted: the
// symbols (maxSymbols), the kinds per symbol (maxKinds) and the bodies'
// bytes (maxBytes). A body too large to travel as one snapshot record is
// refused too. Not safe for concurrent use: the feed's mutex guards it.
type apps struct {
	maxSymbols int
	maxKinds   int
	maxBytes   int64

	syms    map[symKey]*appSymbol
	bytes   int64 // capacity of every body held
	records int   // (symbol, kind) pairs held
	refused uint64
}

// symKey is a symbol as a map key that costs no allocation.
type symKey struct {
	n uint8
	b [bus.MaxSymbolLen]byte
}

func keyOf(sym []byte) symKey {
	var k symKey
	k.n = uint8(copy(k.b[:], sym))
	return k
}

type appSymbol struct {
	key  symKey    // the map's key again, for a symbol slice that needs no copy
	last []appLast // at most maxKinds
}

type appLast struct {
	kind bus.Kind
	seq  uint64
	body []byte
}

// maxAppRecord is the longest record a snapshot reply can carry: one
// ReplyRecords message holds its 16-byte header, the u32 count and the
// records, within recovery.MaxReplyLen.
const maxAppRecord = recovery.MaxReplyLen - recovery.HeaderLen - 4

func newApps(maxSymbols, maxKinds int, maxBytes int64) *apps {
	return &apps{maxSymbols: maxSymbols, maxKinds: maxKinds, maxBytes: maxBytes, syms: make(map[symKey]*appSymbol)}
}

// keep makes m the last message of its symbol and kind, as of seq.
func (a *apps) keep(m *bus.Message, seq uint64) {
	k := keyOf(m.Symbol)
	sym := a.syms[k]
	i := -1
	if sym != nil {
		for j := range sym.last {
			if sym.last[j].kind == m.Kind {
				i = j
				break
			}
		}
	}
	grow := int64(len(m.Body))
	if i >= 0 {
		grow -= int64(cap(sym.last[i].body))
	}
	rec := recovery.Record{Kind: m.Kind, Symbol: m.Symbol, Body: m.Body}
	if recovery.RecordLen(&rec) > maxAppRecord || a.bytes+max(grow, 0) > a.maxBytes {
		if i >= 0 {
			// The older body goes too: a snapshot must not serve a
			// value it knows has changed.
			a.remove(k, sym, i)
		}
		a.refused++
		return
	}
	if i < 0 {
		if sym == nil {
			if len(a.syms) >= a.maxSymbols {
				a.refused++
				return
			}
			sym = &appSymbol{key: k}
			a.syms[k] = sym
		}
		if len(sym.last) >= a.maxKinds {
			a.refused++
			return
		}
		sym.last = append(sym.last, appLast{kind: m.Kind})
		i = len(sym.last) - 1
		a.records++
	}
	l := &sym.last[i]
	if grow > 0 {
		l.body = make([]byte, 0, len(m.Body))
		a.bytes += grow
	}
	l.body = append(l.body[:0], m.Body...)
	l.seq = seq
}

// remove drops sym's kind i, and sym with its last kind.
func (a *apps) remove(k symKey, sym *appSymbol, i int) {
	a.bytes -= int64(cap(sym.last[i].body))
	a.records--
	sym.last = append(sym.last[:i], sym.last[i+1:]...)
	if len(sym.last) == 0 {
		delete(a.syms, k)
	}
}

// each calls fn with every last message whose symbol starts with one of
// prefixes (all of them without prefixes).
func (a *apps) each(prefixes [][]byte, fn func(rec *recovery.Record)) {
	var rec recovery.Record
	for _, sym := range a.syms {
		s := sym.key.b[:sym.key.n]
		if !bus.HasAnyPrefix(s, prefixes) {
			continue
		}
		for i := range sym.last {
			l := &sym.last[i]
			rec = recovery.Record{Kind: l.kind, Symbol: s, Seq: l.seq, Body: l.body}
			fn(&rec)
		}
	}
}
