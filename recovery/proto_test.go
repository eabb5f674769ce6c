package recovery

import (
	"bytes"
	"errors"
	"testing"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
)

func TestRequestRoundTrip(t *testing.T) {
	for _, want := range []Request{
		{Op: OpSnapshot, ID: 1, Stream: 3},
		{Op: OpSnapshot, ID: 2, Stream: 3, Prefixes: [][]byte{[]byte("AA"), []byte("B")}},
		{Op: OpRetransmit, ID: 3, Stream: 1, Session: 0xfeed, First: 10, Last: 20},
	} {
		b := AppendRequest(nil, &want)
		var got Request
		if err := ParseRequest(b, &got); err != nil {
			t.Fatalf("%+v: %v", want, err)
		}
		if got.Op != want.Op || got.ID != want.ID || got.Stream != want.Stream || got.Session != want.Session ||
			got.First != want.First || got.Last != want.Last || len(got.Prefixes) != len(want.Prefixes) {
			t.Errorf("got %+v, want %+v", got, want)
		}
		for i := range want.Prefixes {
			if !bytes.Equal(got.Prefixes[i], want.Prefixes[i]) {
				t.Errorf("prefix %d: %q, want %q", i, got.Prefixes[i], want.Prefixes[i])
			}
		}
	}
	var r Request
	for name, b := range map[string][]byte{
		"range backwards": AppendRequest(nil, &Request{Op: OpRetransmit, First: 5, Last: 4}),
		"seq 0":           AppendRequest(nil, &Request{Op: OpRetransmit, First: 0, Last: 4}),
		"unknown op":      AppendRequest(nil, &Request{Op: 9}),
		"trailing":        append(AppendRequest(nil, &Request{Op: OpSnapshot}), 0),
		"short":           []byte("FBRQ"),
	} {
		if err := ParseRequest(b, &r); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: %v, want ErrBadRequest", name, err)
		}
	}
}

// sampleReplies are one reply of each type, as a server sends them.
func sampleReplies() [][]byte {
	state := make([]byte, fanout.BookStateLen)
	rec := AppendRecord(nil, &Record{Kind: bus.KindBookState, Symbol: []byte("AAPL"), Seq: 7, Body: state})
	rec = AppendRecord(rec, &Record{Kind: 200, Symbol: []byte("AAPL"), Seq: 6, Body: []byte("vendor")})
	var w bus.FrameWriter
	w.Begin(&bus.Header{Session: 9, Stream: 1, FirstSeq: 5})
	w.Add(&bus.Message{Kind: bus.KindTrade, Symbol: []byte("X"), Price: 1, Size: 1})
	return [][]byte{
		AppendReply(nil, &Reply{Type: ReplyRecords, ID: 1, Records: 2, Body: rec}),
		AppendReply(nil, &Reply{Type: ReplySnapshotEnd, ID: 1, Session: 9, Stream: 1, Seq: 7, Records: 2}),
		AppendReply(nil, &Reply{Type: ReplyFrame, ID: 2, Body: w.Finish(1)}),
		AppendReply(nil, &Reply{Type: ReplyRetransmitEnd, ID: 2, Status: Partial, Next: 6, Held: [2]uint64{3, 5}}),
		AppendReply(nil, &Reply{Type: ReplyError, ID: 3, Code: CodeBusy, Text: "busy"}),
	}
}

func TestReplyRoundTrip(t *testing.T) {
	var r Reply
	for i, b := range sampleReplies() {
		if err := ParseReply(b, &r); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if again := AppendReply(nil, &r); !bytes.Equal(again, b) {
			t.Errorf("reply %d (%v) does not encode back to itself", i, r.Type)
		}
	}
	if err := ParseReply(sampleReplies()[0], &r); err != nil {
		t.Fatal(err)
	}
	var rec Record
	rest := NextRecord(r.Body, &rec)
	if rec.Kind != bus.KindBookState || string(rec.Symbol) != "AAPL" || rec.Seq != 7 || len(rec.Body) != fanout.BookStateLen {
		t.Errorf("first record %+v", rec)
	}
	if NextRecord(rest, &rec); rec.Kind != 200 || string(rec.Body) != "vendor" {
		t.Errorf("second record %+v", rec)
	}
}

// FuzzParseReply feeds the client's parser what a server, or anything
// else that reaches the socket, might send: it must refuse or accept, and
// what it accepts must walk (records) and encode back without a panic.
func FuzzParseReply(f *testing.F) {
	for _, b := range sampleReplies() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Reply
		if ParseReply(b, &r) != nil {
			return
		}
		if r.Type == ReplyRecords {
			var rec Record
			n := 0
			for rest := r.Body; len(rest) > 0; n++ {
				rest = NextRecord(rest, &rec)
			}
			if n != int(r.Records) {
				t.Fatalf("%d records walked, %d counted", n, r.Records)
			}
		}
		AppendReply(nil, &r)
	})
}
