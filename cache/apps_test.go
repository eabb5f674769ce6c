package cache

import (
	"bytes"
	"testing"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/recovery"
)

func appMsg(sym string, kind bus.Kind, body []byte) *bus.Message {
	return &bus.Message{Kind: kind, Symbol: []byte(sym), Body: body}
}

// apps keeps the last message per symbol and kind, within its three
// bounds, counting every refusal; a body it cannot keep takes the older
// one with it.
func TestApps(t *testing.T) {
	a := newApps(2, 2, 100)
	a.keep(appMsg("A", 130, []byte("one")), 1)
	a.keep(appMsg("A", 130, []byte("two")), 2)
	a.keep(appMsg("A", 131, []byte("x")), 3)
	a.keep(appMsg("A", 132, []byte("y")), 4) // a third kind of A: refused
	a.keep(appMsg("B", 130, []byte("b")), 5)
	a.keep(appMsg("C", 130, []byte("c")), 6) // a third symbol: refused
	if a.records != 3 || a.refused != 2 || len(a.syms) != 2 {
		t.Fatalf("records %d, refused %d, symbols %d", a.records, a.refused, len(a.syms))
	}
	got := map[string]recovery.Record{}
	a.each(nil, func(r *recovery.Record) {
		got[appKey(r.Symbol, r.Kind)] = recovery.Record{Seq: r.Seq, Body: bytes.Clone(r.Body)}
	})
	if r := got["A/130"]; r.Seq != 2 || string(r.Body) != "two" || len(got) != 3 {
		t.Errorf("kept %v", got)
	}
	n := 0
	a.each([][]byte{[]byte("B"), []byte("Z")}, func(*recovery.Record) { n++ })
	if n != 1 {
		t.Errorf("prefix B: %d records, want 1", n)
	}
	// Over the byte bound: refused, and the older body of that kind goes.
	a.keep(appMsg("B", 130, make([]byte, 200)), 7)
	if a.records != 2 || a.refused != 3 || len(a.syms) != 1 {
		t.Errorf("after a body over the bound: records %d, refused %d, symbols %d", a.records, a.refused, len(a.syms))
	}
	// A body that no snapshot reply could carry: refused.
	big := newApps(10, 10, 1<<20)
	big.keep(appMsg("A", 130, make([]byte, maxAppRecord)), 1)
	if big.records != 0 || big.refused != 1 || len(big.syms) != 0 {
		t.Errorf("a body over a reply: records %d, refused %d, symbols %d", big.records, big.refused, len(big.syms))
	}
	if a.bytes < 0 || a.bytes > a.maxBytes {
		t.Errorf("%d bytes counted", a.bytes)
	}
}
