package cache

import (
	"encoding/binary"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/recovery"
)

// bookStateLastSeq is where fanout's book state holds the book's last
// sequence number (see fanout.BookStateLen's layout): a record's Seq.
// TestBookStateLastSeq pins it against fanout.ParseBookState.
const bookStateLastSeq = 84

// maxChunk is the most record bytes one ReplyRecords message carries:
// recovery.MaxReplyLen less the reply header and the record count.
const maxChunk = recovery.MaxReplyLen - recovery.HeaderLen - 4

// snapshotJob is a snapshot in progress. The records are encoded at
// once, under the feed's mutex, at one point of the feed (the Clone
// pattern's consistency point): every book, and every application kind's
// last message, as of the feed's last number applied, which SnapshotEnd
// names. Then the mutex goes, and the records go out in ReplyRecords
// messages of up to maxChunk bytes, at whatever pace the client reads,
// while the feed moves on. A client applies the records, then the live
// messages numbered above SnapshotEnd's Seq.
//
// Its buffers come back to the router's free list when it ends, so a
// steady stream of snapshots reuses them.
type snapshotJob struct {
	id      uint64
	records []byte  // every record, encoded
	chunks  []chunk // reply i carries records[chunks[i-1].end:chunks[i].end]
	next    int     // the next reply: a chunk, or the end when next == len(chunks)
	end     recovery.Reply
	total   uint32
}

type chunk struct {
	end int
	n   uint32
}

// take encodes the snapshot req asks for, under the feed's mutex. It
// returns a code other than 0, with a reason, when the feed cannot serve
// it.
func (j *snapshotJob) take(f *feed, req *recovery.Request) (recovery.Code, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if code, text := f.refuse(req.Stream, true); code != 0 {
		return code, text
	}
	j.id, j.next, j.total = req.ID, 0, 0
	j.records, j.chunks = j.records[:0], j.chunks[:0]
	start, n := 0, uint32(0)
	add := func(rec *recovery.Record) {
		if len(j.records)-start+recovery.RecordLen(rec) > maxChunk {
			j.chunks = append(j.chunks, chunk{end: len(j.records), n: n})
			start, n = len(j.records), 0
		}
		j.records = recovery.AppendRecord(j.records, rec)
		n++
		j.total++
	}
	var rec recovery.Record
	f.books.AppendStates(req.Prefixes, func(symbol, state []byte) {
		rec = recovery.Record{Kind: bus.KindBookState, Symbol: symbol, Body: state,
			Seq: binary.LittleEndian.Uint64(state[bookStateLastSeq:])}
		add(&rec)
	})
	f.apps.each(req.Prefixes, add)
	if n > 0 {
		j.chunks = append(j.chunks, chunk{end: len(j.records), n: n})
	}
	j.end = recovery.Reply{Type: recovery.ReplySnapshotEnd, ID: req.ID,
		Session: f.session, Stream: f.stream, Seq: f.last, Records: j.total}
	return 0, ""
}

// build appends the next reply to dst.
func (j *snapshotJob) build(_ *router, dst []byte, _ time.Time) (msg []byte, last bool) {
	if j.next == len(j.chunks) {
		return recovery.AppendReply(dst, &j.end), true
	}
	c := j.chunks[j.next]
	start := 0
	if j.next > 0 {
		start = j.chunks[j.next-1].end
	}
	return recovery.AppendReply(dst, &recovery.Reply{Type: recovery.ReplyRecords, ID: j.id,
		Records: c.n, Body: j.records[start:c.end]}), false
}

// commit notes that the reply build made last was sent.
func (j *snapshotJob) commit(c *counters) {
	if j.next < len(j.chunks) {
		c.recordsSent.Add(uint64(j.chunks[j.next].n))
		j.next++
	}
}

// held is the bytes of records not sent yet.
func (j *snapshotJob) held() int {
	if j.next == 0 {
		return len(j.records)
	}
	if j.next >= len(j.chunks) {
		return 0
	}
	return len(j.records) - j.chunks[j.next-1].end
}

// release gives the buffers back to r's free list.
func (j *snapshotJob) release(r *router) { r.freeSnapshot(j) }
