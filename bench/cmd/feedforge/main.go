// Command feedforge sends well-formed but hostile frames on a feedbus
// line, one attack at a time, to show that a subscriber counts each in its
// own counter and loses nothing of the real feed. It is a test tool, bounded
// in count and time: never point it at a production group.
//
// Attacks:
//
//	stream   data frames of another stream (counted foreign)
//	session  heartbeats of fresh random sessions, half of them at sequence 1
//	         (foreign while the real feed is live)
//	ahead    frames of the real session (--session) a million ahead, every
//	         other number (implausible)
//	next     frames of the real session (--session) at the feed's own next
//	         numbers, 25 ahead of the last it heard on the line: they win
//	         those numbers, so only --auth-key refuses them; without it the
//	         real copies that follow are counted as conflicts
//	bomb     S2 bodies of 52 bytes that declare 1 MiB (malformed, never
//	         inflated)
//	symbols  frames of a fresh session, each with 50 symbols never seen
//	         before (foreign: a million symbols must not grow the books)
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/cli"
	"github.com/klauspost/compress/s2"
)

func main() { cli.Main("feedforge", run) }

func run(ctx context.Context, args []string, _, stderr io.Writer) error {
	var lines cli.Strings
	fs := flag.NewFlagSet("feedforge", flag.ContinueOnError)
	fs.Var(&lines, "line", "endpoint to send on, repeatable")
	attack := fs.String("attack", "", "stream, session, ahead, next, bomb or symbols")
	session := fs.String("session", "", "the real session id in hex, for --attack ahead and next")
	count := fs.Int("count", 200, "frames to send (at most 100000)")
	rate := fs.Int("rate", 200, "frames per second (at most 10000)")
	if err := cli.Parse(fs, args, stderr); err != nil {
		return err
	}
	if *count <= 0 || *count > 100_000 || *rate <= 0 || *rate > 10_000 {
		return cli.Usagef("--count 1-100000 and --rate 1-10000")
	}
	var real uint64
	if *attack == "ahead" || *attack == "next" {
		v, err := strconv.ParseUint(*session, 16, 64)
		if err != nil || v == 0 {
			return cli.Usagef("--attack %s needs --session, the real session id in hex", *attack)
		}
		real = v
	}
	var feed *tail
	if *attack == "next" {
		sub, err := bus.NewSubscriber(lines)
		if err != nil {
			return err
		}
		defer sub.Close()
		feed = &tail{sub: sub, session: real}
	}
	build, err := forger(*attack, real, feed)
	if err != nil {
		return cli.UsageError{Err: err}
	}
	pub, err := bus.NewPublisher(lines, bus.WithLinger(time.Second))
	if err != nil {
		return err
	}
	defer pub.Close()
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	defer tick.Stop()
	sent := 0
	for sent < *count {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		f, err := build(sent)
		if err != nil {
			return err
		}
		if f == nil {
			continue // nothing to forge from yet
		}
		if err := pub.Send(f); err != nil {
			return err
		}
		sent++
	}
	fmt.Fprintf(stderr, "feedforge: sent %d %s frames\n", sent, *attack)
	return nil
}

// tail follows the real session on the line, for the next attack.
type tail struct {
	sub     *bus.Subscriber
	session uint64
	next    uint64 // the feed's next sequence number, as last heard
	frame   bus.Frame
}

// catchUp reads every frame queued and returns the feed's next number,
// 0 until a data frame of the real session has been heard.
func (t *tail) catchUp() (uint64, error) {
	for {
		b, _, err := t.sub.Recv(0)
		if err != nil || b == nil {
			return t.next, err
		}
		if bus.Decode(b, &t.frame) == nil && t.frame.Session == t.session && !t.frame.Heartbeat() {
			t.next = max(t.next, t.frame.FirstSeq+uint64(t.frame.Count))
		}
	}
}

// forger returns the function that builds attack frame i; it returns a
// nil frame when it has nothing to forge from yet.
func forger(attack string, real uint64, feed *tail) (func(i int) ([]byte, error), error) {
	if b := forgerOf(attack, real, feed); b != nil {
		return b, nil
	}
	return nil, fmt.Errorf("--attack %q: want stream, session, ahead, next, bomb or symbols", attack)
}

// forgerOf is forger, nil for an unknown attack.
func forgerOf(attack string, real uint64, feed *tail) func(i int) ([]byte, error) {
	plain := func(f func(i int) []byte) func(i int) ([]byte, error) {
		return func(i int) ([]byte, error) { return f(i), nil }
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	var w bus.FrameWriter
	trade := bus.Message{Kind: bus.KindTrade, Symbol: []byte("FORGED"), Price: 1, Size: 1}
	frame := func(h bus.Header, n int) []byte {
		w.Begin(&h)
		for j := 0; j < n; j++ {
			w.Add(&trade)
		}
		return w.Finish(time.Now().UnixNano())
	}
	switch attack {
	case "next":
		return func(int) ([]byte, error) {
			next, err := feed.catchUp()
			if next == 0 || err != nil {
				return nil, err
			}
			return frame(bus.Header{Session: real, Stream: 1, FirstSeq: next + 25}, 5), nil
		}
	case "stream":
		id := rng.Uint64() | 1
		return plain(func(i int) []byte { return frame(bus.Header{Session: id, Stream: 99, FirstSeq: uint64(1 + 20*i)}, 20) })
	case "session":
		return plain(func(i int) []byte {
			first := uint64(1)
			if i%2 == 1 {
				first = 1 + rng.Uint64N(1<<30)
			}
			return frame(bus.Header{Flags: bus.FlagHeartbeat, Session: rng.Uint64() | 1, Stream: 1, FirstSeq: first}, 0)
		})
	case "ahead":
		return plain(func(i int) []byte {
			return frame(bus.Header{Session: real, Stream: 1, FirstSeq: uint64(1_000_000 + 2*i)}, 1)
		})
	case "symbols":
		id := rng.Uint64() | 1
		var sym [16]byte
		return plain(func(i int) []byte {
			w.Begin(&bus.Header{Session: id, Stream: 1, FirstSeq: uint64(1_000 + 50*i)})
			for j := 0; j < 50; j++ {
				m := trade
				m.Symbol = strconv.AppendUint(append(sym[:0], 'F'), uint64(50*i+j), 10)
				w.Add(&m)
			}
			return w.Finish(time.Now().UnixNano())
		})
	case "bomb":
		body := s2.Encode(nil, make([]byte, 1<<20))
		return plain(func(i int) []byte {
			h := bus.AppendHeader(nil, &bus.Header{Flags: 1 << 1, Session: rng.Uint64() | 1, Stream: 1, FirstSeq: 1, Count: 1})
			binary.LittleEndian.PutUint64(h[32:], uint64(time.Now().UnixNano()))
			return append(h, body...)
		})
	}
	return nil
}
