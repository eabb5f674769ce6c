package feedbus

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/latency"
	"github.com/feedbus/feedbus/internal/summary"
	"github.com/feedbus/feedbus/recovery"
	zmq "github.com/pebbe/zmq4"
)

// recoverer is the receive loop's side of recovery (WithRecovery): it
// delivers the followed session in sequence order, holding the frames that
// come after a hole until the hole is filled, by another line or by a
// recovery server, or given up; and it joins a running feed from a
// server's snapshot. It is part of the loop and runs only on it.
type recoverer struct {
	r      *receiver
	client *recovery.Client
	pipe   *zmq.Socket // the loop's end of the client's pipe
	index  int         // Recv's index of the pipe
	line   lineState   // the recovered frames' counts

	// In-order delivery of the followed session.
	active bool   // next is known
	next   uint64 // the next sequence number to deliver
	held   []heldFrame
	bytes  int // held
	// The hole in front of next, while one is open.
	holeSince int64  // mono ns; 0 when no hole is open
	holeEnd   uint64 // a heartbeat announced every message before it
	retryAt   int64  // mono ns: ask again then (the server was behind)
	asked     bool   // a server was asked for this hole

	// The request in progress (0: none).
	reqID   uint64
	reqOp   recovery.Op
	reqTo   uint64 // retransmit: the hole's last message asked for
	lastID  uint64
	reqBuf  []byte
	snapEnd *recovery.Reply // the snapshot's end, once it came
	parked  [][]byte        // snapshot records the workers had no room for yet
	reply   recovery.Reply
	record  recovery.Record
	msg     bus.Message

	joinAfter  bool              // a snapshot is wanted when the first session is found mid-stream
	joining    bool              // frames are held until the snapshot is in
	joinSince  int64             // mono ns of the snapshot request, or its last records
	fill       *latency.Recorder // holes a server filled
	lineFill   *latency.Recorder // holes a line filled, late or from the other line
	stats      RecoveryStats
	holdLimit  int
	holdWait   time.Duration
	retryDelay time.Duration
}

// heldFrame is a frame that came before its turn, kept as received.
type heldFrame struct {
	b     []byte
	line  int
	first uint64
}

// RecoveryStats are the counts of a subscriber's recovery (WithRecovery),
// in its Summary.
type RecoveryStats = summary.Recovery

// retryBehind is how soon a hole is asked for again when the server had
// not yet heard all of it: a server is a subscriber too, a few tens of
// microseconds behind the lines when both are well.
const retryBehind = 2 * time.Millisecond

// newRecoverer makes the loop's recoverer; client nil orders the feed
// without recovery servers (udp:// lines), and index is then -1.
func newRecoverer(r *receiver, client *recovery.Client, index int) *recoverer {
	cfg := r.cfg
	rc := &recoverer{r: r, client: client, index: index,
		line:      lineState{tracker: bus.NewTracker(0), lat: latency.New()},
		joinAfter: cfg.snapshot && client != nil, fill: latency.New(), lineFill: latency.New(),
		holdLimit: cfg.holdBytes, holdWait: cfg.holdWait, retryDelay: retryBehind}
	if client != nil {
		rc.pipe = client.Pipe()
	} else {
		rc.holdWait = 0 // no server to wait for: a hole is a gap after the gap wait
	}
	return rc
}

// restart follows a new session of the stream from seq: nothing held of
// the old one matters any more.
func (rc *recoverer) restart(seq uint64) {
	rc.dropHeld()
	rc.active, rc.next, rc.joining = true, seq, false
	rc.closeHole()
	rc.reqID, rc.parked, rc.snapEnd = 0, nil, nil
}

// admit decides what becomes of an arriving frame of the followed
// session: true to process it now, false when it is held (or, for a
// heartbeat ahead, noted).
func (rc *recoverer) admit(b []byte, line int, f *bus.Frame, now time.Time, mono int64) bool {
	if !rc.active && !rc.joining {
		if rc.joinAfter && f.FirstSeq > 1 {
			rc.joinAfter = false
			rc.joining = true
			rc.requestSnapshot(mono)
		} else {
			rc.joinAfter = false
			rc.active, rc.next = true, f.FirstSeq
		}
	}
	if rc.joining {
		if f.Heartbeat() {
			rc.countBeat(line)
			return false
		}
		return rc.hold(b, line, f.FirstSeq, mono)
	}
	if f.FirstSeq <= rc.next {
		return true
	}
	// A hole in front of this frame.
	if rc.holeSince == 0 {
		rc.holeSince = max(mono, 1)
	}
	if f.Heartbeat() {
		rc.holeEnd = max(rc.holeEnd, f.FirstSeq)
		rc.countBeat(line)
		return false
	}
	return rc.hold(b, line, f.FirstSeq, mono)
}

func (rc *recoverer) countBeat(line int) {
	rc.r.heartbeats++
	rc.r.line(line).beats++
}

// hold keeps a frame for later, in sequence order. Past the hold limit
// the hole in front is given up at once: memory is bounded, not the wait.
func (rc *recoverer) hold(b []byte, line int, first uint64, mono int64) bool {
	i := len(rc.held)
	for i > 0 && rc.held[i-1].first > first {
		i--
	}
	if rc.r.sub.Ephemeral() {
		b = bytes.Clone(b) // a ring slot, reused after this Recv
	}
	rc.held = slices.Insert(rc.held, i, heldFrame{b: b, line: line, first: first})
	rc.bytes += len(b)
	rc.stats.HeldMax = max(rc.stats.HeldMax, rc.bytes)
	if rc.holdLimit > 0 && rc.bytes > rc.holdLimit {
		rc.stats.HoldOverflows++
		if rc.joining {
			rc.fail("the frames held while joining passed the hold limit")
			rc.endJoin(0, mono)
		} else {
			rc.giveUp(mono)
		}
	}
	return false
}

func (rc *recoverer) dropHeld() {
	clear(rc.held)
	rc.held, rc.bytes = rc.held[:0], 0
}

// processed notes a frame's messages delivered in order.
func (rc *recoverer) processed(f *bus.Frame, won int, recovered bool, mono int64) {
	if recovered {
		rc.stats.Recovered += uint64(won)
	}
	if f.Heartbeat() {
		return
	}
	if end := f.FirstSeq + uint64(f.Count); end > rc.next {
		rc.next = end
	}
}

// release processes the held frames whose turn has come, in order, and
// closes the hole once nothing is missing in front of next.
func (rc *recoverer) release(mono int64) {
	r := rc.r
	if rc.holeSince == 0 && len(rc.held) == 0 {
		return
	}
	oldTo := rc.holeTo()
	for len(rc.held) > 0 && rc.held[0].first <= rc.next {
		h := rc.held[0]
		rc.held[0] = heldFrame{}
		rc.held = rc.held[1:]
		rc.bytes -= len(h.b)
		// Decoded again: the loop's frame has moved on since. It was
		// verified and admitted when it came.
		if err := r.dec.Decode(h.b, &r.frame); err != nil {
			r.malformed++
			r.lastMalformed = err
			continue
		}
		now := time.Now()
		r.process(h.line, now, r.wall(now), mono)
	}
	if len(rc.held) == 0 {
		rc.held = rc.held[:0:0] // let a long hold's array go
	}
	if rc.holeSince == 0 || rc.next <= oldTo {
		return // no hole, or the same one still open
	}
	if rc.asked {
		rc.fill.Record(mono-rc.holeSince, 1)
	} else {
		rc.lineFill.Record(mono-rc.holeSince, 1) // a line filled it: what --gap-wait must cover
	}
	rc.closeHole()
	if len(rc.held) > 0 || rc.holeEnd > rc.next {
		rc.holeSince = max(mono, 1) // another hole, behind the one filled
	}
}

func (rc *recoverer) closeHole() { rc.holeSince, rc.holeEnd, rc.retryAt, rc.asked = 0, 0, 0, false }

// holeTo is the last message of the hole in front of next.
func (rc *recoverer) holeTo() uint64 {
	to := rc.holeEnd
	if len(rc.held) > 0 && (to == 0 || rc.held[0].first < to) {
		to = rc.held[0].first
	}
	return to - 1
}

// tick runs on every turn of the loop: it hands parked snapshot records
// to the workers, asks for a hole once the other lines have had their
// chance, and gives one up past the hold time.
func (rc *recoverer) tick(now time.Time, mono int64) {
	if len(rc.parked) > 0 {
		rc.drainParked(now)
	}
	if rc.joining {
		switch {
		case rc.snapEnd != nil && len(rc.parked) == 0:
			rc.finishJoin(mono)
		case rc.snapEnd == nil && time.Duration(mono-rc.joinSince) > rc.holdWait:
			rc.fail(fmt.Sprintf("no snapshot came within %v", rc.holdWait))
			rc.reqID = 0
			rc.endJoin(0, mono)
		}
		return
	}
	if rc.holeSince == 0 {
		return
	}
	age := time.Duration(mono - rc.holeSince)
	switch {
	case age >= rc.r.cfg.gapWait+rc.holdWait:
		rc.fail(fmt.Sprintf("messages %d-%d were not recovered within %v", rc.next, rc.holeTo(), rc.holdWait))
		rc.giveUp(mono)
	case rc.reqID == 0 && age >= rc.r.cfg.gapWait && mono >= rc.retryAt:
		if rc.client == nil {
			rc.giveUp(mono) // no server: a gap, as the tracker would declare it
			return
		}
		rc.requestRetransmit(mono)
	}
}

// wait is how long the loop may sleep in Recv, at most max, before tick
// has something to do: hand parked snapshot records on (they wait for the
// workers, so soon), ask for a hole, or give one up.
func (rc *recoverer) wait(mono int64, limit time.Duration) time.Duration {
	if len(rc.parked) > 0 {
		return time.Millisecond
	}
	if rc.joining {
		return min(limit, time.Duration(max64(rc.joinSince+int64(rc.holdWait)-mono, 0)))
	}
	if rc.holeSince == 0 {
		return limit
	}
	due := rc.holeSince + int64(rc.r.cfg.gapWait+rc.holdWait)
	if rc.reqID == 0 {
		due = min(due, max64(rc.holeSince+int64(rc.r.cfg.gapWait), rc.retryAt))
	}
	return min(limit, time.Duration(max64(due-mono, 0)))
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// giveUp declares the hole in front of next a gap, as the tracker would
// have without recovery, and delivers what was held behind it.
func (rc *recoverer) giveUp(mono int64) {
	r := rc.r
	to := rc.holeTo()
	if to >= rc.next {
		rc.stats.Unrecovered += to - rc.next + 1
		// The tracker learns of the hole as of its opening, so the gap is
		// declared at the next Expire, not a gap wait later.
		r.tracker.Skip(to+1, max(0, mono-int64(r.cfg.gapWait)))
		rc.next = to + 1
	}
	rc.reqID = 0
	rc.closeHole()
	rc.release(mono)
	r.tracker.Expire(mono)
	r.reportGaps(r.wall(time.Now()))
}

func (rc *recoverer) fail(why string) {
	rc.stats.Failed++
	rc.stats.LastFailure = why
}

// send sends a request on the pipe.
func (rc *recoverer) send(req *recovery.Request) {
	rc.lastID++
	req.ID = rc.lastID
	rc.reqID, rc.reqOp = req.ID, req.Op
	rc.reqBuf = recovery.AppendRequest(rc.reqBuf[:0], req)
	if _, err := rc.pipe.SendBytes(rc.reqBuf, zmq.DONTWAIT); err != nil {
		// The client is gone or jammed: as if no server answered.
		rc.reqID = 0
		rc.fail(fmt.Sprintf("sending a request: %v", err))
	}
}

func (rc *recoverer) requestSnapshot(mono int64) {
	rc.stats.Snapshots++
	rc.joinSince = mono
	rc.snapEnd = nil
	rc.send(&recovery.Request{Op: recovery.OpSnapshot, Stream: rc.r.follow.stream, Prefixes: rc.r.cfg.topics})
	if rc.reqID == 0 {
		rc.endJoin(0, mono)
	}
}

func (rc *recoverer) requestRetransmit(mono int64) {
	rc.stats.Requests++
	rc.asked = true
	rc.reqTo = rc.holeTo()
	rc.send(&recovery.Request{Op: recovery.OpRetransmit, Stream: rc.r.follow.stream,
		Session: rc.r.follow.session, First: rc.next, Last: rc.reqTo})
}

// onReply handles a message from the pipe.
func (rc *recoverer) onReply(b []byte, now time.Time) {
	mono := rc.r.mono(now)
	rep := &rc.reply
	if err := recovery.ParseReply(b, rep); err != nil {
		rc.fail(err.Error())
		return
	}
	if rep.ID != rc.reqID || rc.reqID == 0 {
		rc.stats.Stale++
		return
	}
	switch rep.Type {
	case recovery.ReplyRecords:
		if rc.reqOp == recovery.OpSnapshot {
			rc.joinSince = mono // still coming
			rc.parked = append(rc.parked, rep.Body)
			rc.drainParked(now)
		}
	case recovery.ReplySnapshotEnd:
		if rc.reqOp == recovery.OpSnapshot {
			end := *rep
			rc.snapEnd = &end
			rc.reqID = 0
		}
	case recovery.ReplyFrame:
		if rc.reqOp == recovery.OpRetransmit {
			rc.r.handle(rep.Body, rc.index, now)
			rc.release(mono)
		}
	case recovery.ReplyRetransmitEnd:
		rc.reqID = 0
		rc.afterRetransmit(rep, mono)
	case recovery.ReplyError:
		rc.reqID = 0
		rc.fail(fmt.Sprintf("%v: %s", rep.Code, rep.Text))
		if rc.joining {
			rc.endJoin(0, mono)
		} else if rc.holeSince != 0 {
			rc.giveUp(mono)
		}
	}
}

// afterRetransmit decides what to do with a hole a retransmission did not
// fill: ask for the rest, ask again shortly when the server had not heard
// the messages yet, or give up.
func (rc *recoverer) afterRetransmit(rep *recovery.Reply, mono int64) {
	rc.release(mono)
	if rc.holeSince == 0 {
		return
	}
	switch {
	case rep.Status == recovery.Limited && rep.Next > rc.next-1:
		rc.requestRetransmit(mono)
	case rep.Held[1] < rc.holeTo():
		// The server is behind the lines (it is a subscriber too): ask
		// again, until the hold time runs out.
		rc.retryAt = mono + int64(rc.retryDelay)
	default:
		rc.fail(fmt.Sprintf("messages %d-%d: the server holds %d-%d", rc.next, rc.holeTo(), rep.Held[0], rep.Held[1]))
		rc.giveUp(mono)
	}
}

// drainParked queues snapshot records while the workers have room.
func (rc *recoverer) drainParked(now time.Time) {
	r := rc.r
	ns := r.wall(now)
	for len(rc.parked) > 0 {
		b := rc.parked[0]
		for len(b) > 0 {
			rest := recovery.NextRecord(b, &rc.record)
			rec := &rc.record
			m := &rc.msg
			*m = bus.Message{Kind: rec.Kind, Symbol: rec.Symbol, Body: rec.Body}
			if !r.match(rec.Symbol) {
				b = rest
				continue
			}
			if !r.fan.QueueSnapshot(m, rec.Seq, ns) {
				rc.parked[0] = b
				r.fan.Flush()
				return
			}
			rc.stats.SnapshotRecords++
			b = rest
		}
		rc.parked[0] = nil
		rc.parked = rc.parked[1:]
	}
	rc.parked = nil
	r.fan.Flush()
}

// finishJoin starts in-order delivery after the snapshot.
func (rc *recoverer) finishJoin(mono int64) {
	end := rc.snapEnd
	rc.snapEnd = nil
	r := rc.r
	if end.Session != r.follow.session || end.Stream != r.follow.stream {
		rc.fail(fmt.Sprintf("the snapshot is of session %016x stream %d, not the feed's %016x stream %d",
			end.Session, end.Stream, r.follow.session, r.follow.stream))
		rc.endJoin(0, mono)
		return
	}
	rc.stats.SnapshotSeq = end.Seq
	rc.endJoin(end.Seq+1, mono)
}

// endJoin ends the join: from seq after a snapshot, or (seq 0) where the
// held frames start, as without recovery.
func (rc *recoverer) endJoin(seq uint64, mono int64) {
	r := rc.r
	rc.joining = false
	rc.active = true
	// Whatever is still to come of the snapshot is too late: records after
	// live messages would put old state back.
	rc.reqID, rc.parked, rc.snapEnd = 0, nil, nil
	if seq == 0 {
		seq = rc.next
		if len(rc.held) > 0 {
			seq = rc.held[0].first
		}
	} else {
		r.joinedAt = seq
	}
	rc.next = seq
	r.tracker.Resume(seq) // no frame of the session has reached it yet
	// Frames the snapshot covers entirely are not delivered again.
	for len(rc.held) > 0 {
		h := rc.held[0]
		if r.dec.Decode(h.b, &r.frame) != nil || r.frame.FirstSeq+uint64(r.frame.Count) > seq {
			break
		}
		rc.held = rc.held[1:]
		rc.bytes -= len(h.b)
	}
	rc.release(mono)
	if len(rc.held) > 0 && rc.held[0].first > rc.next {
		rc.holeSince = max(mono, 1)
	}
}
