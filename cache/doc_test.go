package cache

import (
	"bytes"
	"testing"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
	"github.com/feedbus/feedbus/internal/wiredoc"
	"github.com/feedbus/feedbus/recovery"
)

// docPath is the protocol document whose worked examples
// TestRecoveryDocExamples pins.
const docPath = "../docs/recovery.md"

const docSession = 0x0102030405060708

// docBookState is the book of the records example: AAPL-like quotes and a
// trade on symbol AB, the state as a snapshot carries it.
func docBookState(t *testing.T) []byte {
	books := fanout.NewBooks()
	books.Handle(&fanout.Message{Message: bus.Message{Kind: bus.KindQuote, Symbol: []byte("AB"),
		BidPrice: 189_12000000, AskPrice: 189_13000000, BidSize: 3, AskSize: 2}, Seq: 4})
	books.Handle(&fanout.Message{Message: bus.Message{Kind: bus.KindTrade, Symbol: []byte("AB"),
		Price: 189_13000000, Size: 100, Side: bus.SideBuy}, Seq: 5})
	var state []byte
	books.AppendStates(nil, func(_, s []byte) { state = bytes.Clone(s) })
	if len(state) != fanout.BookStateLen {
		t.Fatalf("book state of %d bytes", len(state))
	}
	return state
}

// TestRecoveryDocExamples checks every worked example in
// docs/recovery.md against the encoders, byte for byte, and parses each
// back.
func TestRecoveryDocExamples(t *testing.T) {
	records := recovery.AppendRecord(nil, &recovery.Record{Kind: bus.KindBookState, Symbol: []byte("AB"), Seq: 5, Body: docBookState(t)})
	records = recovery.AppendRecord(records, &recovery.Record{Kind: 130, Symbol: []byte("AB"), Seq: 6, Body: []byte("halted")})
	for _, ex := range []struct {
		key  string
		want []byte
	}{
		{"Example: a snapshot request", recovery.AppendRequest(nil, &recovery.Request{Op: recovery.OpSnapshot, ID: 1, Stream: 9,
			Prefixes: [][]byte{[]byte("AA"), []byte("MSF")}})},
		{"Example: a retransmission request", recovery.AppendRequest(nil, &recovery.Request{Op: recovery.OpRetransmit, ID: 2, Stream: 9,
			Session: docSession, First: 5, Last: 8})},
		{"Example: snapshot records", recovery.AppendReply(nil, &recovery.Reply{Type: recovery.ReplyRecords, ID: 1, Records: 2, Body: records})},
		{"Example: the end of a snapshot", recovery.AppendReply(nil, &recovery.Reply{Type: recovery.ReplySnapshotEnd, ID: 1,
			Session: docSession, Stream: 9, Seq: 6, Records: 2})},
		{"Example: the end of a retransmission", recovery.AppendReply(nil, &recovery.Reply{Type: recovery.ReplyRetransmitEnd, ID: 2,
			Status: recovery.Partial, Next: 9, Held: [2]uint64{6, 8}})},
		{"Example: an error", recovery.AppendReply(nil, &recovery.Reply{Type: recovery.ReplyError, ID: 3, Code: recovery.CodeBusy,
			Text: "busy"})},
	} {
		blocks := wiredoc.HexBlocks(t, docPath, ex.key)
		if len(blocks) != 1 {
			t.Errorf("%s: %d dumps in %s, want 1", ex.key, len(blocks), docPath)
			continue
		}
		if !bytes.Equal(blocks[0], ex.want) {
			t.Errorf("%s: the dump in %s does not match the encoder (%d bytes documented, %d encoded); the encoder gives\n%s",
				ex.key, docPath, len(blocks[0]), len(ex.want), wiredoc.Dump(ex.want))
			continue
		}
		var req recovery.Request
		var rep recovery.Reply
		if recovery.ParseRequest(blocks[0], &req) != nil && recovery.ParseReply(blocks[0], &rep) != nil {
			t.Errorf("%s: parses neither as a request nor as a reply", ex.key)
		}
	}
	// The records example's book, decoded as a client would.
	b, err := fanout.ParseBookState([]byte("AB"), docBookState(t))
	if err != nil || b.BidPrice != 189_12000000 || b.LastPrice != 189_13000000 || b.Volume != 100 || b.Messages != 2 || b.LastSeq != 5 || b.VWAP != 189_13000000 {
		t.Errorf("book %+v, %v", b, err)
	}
}
