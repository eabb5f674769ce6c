package feedbus

import (
	"time"

	"github.com/feedbus/feedbus/bus"
)

// follower decides which frames belong to the feed a subscriber follows:
// one stream, and one publisher session of it at a time. Anything else on
// the lines (another stream, a second publisher on the same group, a test
// sender left running, forged frames) is foreign: counted, never delivered.
//
// How a restart is told from a foreign publisher, without --auth-key: a
// frame of a new session of the followed stream starts following it when
//   - the current session ended cleanly (its publisher sent FlagEnd), or
//   - the current session has sent nothing for restartAfter (a publisher
//     heartbeats while idle, so silence means it is gone), or
//   - the new session starts at the beginning (its frame announces or
//     carries sequence number 1, as a fresh publisher's first heartbeat
//     does) and the current one has been silent for quickRestart: a crash
//     and an immediate restart lose nothing.
//
// Otherwise the frame is foreign. A sender that can reach the group and
// forge a fresh session while the real feed is quiet can still take the
// subscriber over; only authenticated frames (--auth-key) prevent that.
//
// A follower belongs to the receive loop.
type follower struct {
	stream       uint32
	streamSet    bool
	session      uint64
	have         bool
	ended        bool
	last         int64 // monotonic ns of the current session's last frame
	restarts     uint64
	restartAfter int64
	quickRestart int64
	// With authenticated frames, send times cannot be forged: a new
	// session must be stamped after the followed one's last frame, so a
	// replay of an old session's start is foreign, not a restart.
	sendTimes bool
	sent      int64 // latest send time of the followed session
}

// Defaults for telling a restart from a foreign publisher.
const (
	// DefaultRestartAfter is how long the followed session must be silent
	// before any new session of its stream replaces it: four default
	// heartbeat intervals.
	DefaultRestartAfter = 2 * time.Second
	// quickRestart is how long it must be silent before a new session
	// that starts at sequence number 1 replaces it.
	quickRestart = 50 * time.Millisecond
)

// followVerdict is what to do with a frame.
type followVerdict uint8

const (
	follow     followVerdict = iota // the followed session: go on
	newSession                      // a session to follow from now on (first, or a restart)
	foreign                         // not the feed: count and drop
)

func newFollower(stream uint32, streamSet bool, restartAfter time.Duration) *follower {
	return &follower{stream: stream, streamSet: streamSet, restartAfter: int64(restartAfter), quickRestart: int64(quickRestart)}
}

// admit judges a decoded frame's header, received at mono (monotonic ns).
func (fl *follower) admit(h *bus.Header, mono int64) followVerdict {
	if !fl.streamSet {
		fl.stream, fl.streamSet = h.Stream, true
	}
	if h.Stream != fl.stream {
		return foreign
	}
	if fl.have && h.Session == fl.session {
		fl.last = mono
		fl.sent = max(fl.sent, h.SendTime)
		if h.End() {
			fl.ended = true
		}
		return follow
	}
	if fl.have {
		if fl.sendTimes && h.SendTime <= fl.sent {
			return foreign
		}
		silent := mono - fl.last
		fresh := h.FirstSeq == 1 && silent >= fl.quickRestart
		if !fl.ended && silent < fl.restartAfter && !fresh {
			return foreign
		}
		fl.restarts++
	}
	fl.session, fl.have, fl.ended, fl.last, fl.sent = h.Session, true, h.End(), mono, h.SendTime
	return newSession
}
