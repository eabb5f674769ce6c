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
	attack := fs.String("attack", "", "stream, session, ahead, bomb or symbols")
	session := fs.String("session", "", "the real session id in hex, for --attack ahead")
	count := fs.Int("count", 200, "frames to send (at most 100000)")
	rate := fs.Int("rate", 200, "frames per second (at most 10000)")
	if err := cli.Parse(fs, args, stderr); err != nil {
		return err
	}
	if *count <= 0 || *count > 100_000 || *rate <= 0 || *rate > 10_000 {
		return cli.Usagef("--count 1-100000 and --rate 1-10000")
	}
	var real uint64
	if *attack == "ahead" {
		v, err := strconv.ParseUint(*session, 16, 64)
		if err != nil || v == 0 {
			return cli.Usagef("--attack ahead needs --session, the real session id in hex")
		}
		real = v
	}
	build, err := forger(*attack, real)
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
		if err := pub.Send(build(sent)); err != nil {
			return err
		}
		sent++
	}
	fmt.Fprintf(stderr, "feedforge: sent %d %s frames\n", sent, *attack)
	return nil
}

// forger returns the function that builds attack frame i.
func forger(attack string, real uint64) (func(i int) []byte, error) {
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
	case "stream":
		id := rng.Uint64() | 1
		return func(i int) []byte { return frame(bus.Header{Session: id, Stream: 99, FirstSeq: uint64(1 + 20*i)}, 20) }, nil
	case "session":
		return func(i int) []byte {
			first := uint64(1)
			if i%2 == 1 {
				first = 1 + rng.Uint64N(1<<30)
			}
			return frame(bus.Header{Flags: bus.FlagHeartbeat, Session: rng.Uint64() | 1, Stream: 1, FirstSeq: first}, 0)
		}, nil
	case "ahead":
		return func(i int) []byte {
			return frame(bus.Header{Session: real, Stream: 1, FirstSeq: uint64(1_000_000 + 2*i)}, 1)
		}, nil
	case "symbols":
		id := rng.Uint64() | 1
		var sym [16]byte
		return func(i int) []byte {
			w.Begin(&bus.Header{Session: id, Stream: 1, FirstSeq: uint64(1_000 + 50*i)})
			for j := 0; j < 50; j++ {
				m := trade
				m.Symbol = strconv.AppendUint(append(sym[:0], 'F'), uint64(50*i+j), 10)
				w.Add(&m)
			}
			return w.Finish(time.Now().UnixNano())
		}, nil
	case "bomb":
		body := s2.Encode(nil, make([]byte, 1<<20))
		return func(i int) []byte {
			h := bus.AppendHeader(nil, &bus.Header{Flags: 1 << 1, Session: rng.Uint64() | 1, Stream: 1, FirstSeq: 1, Count: 1})
			binary.LittleEndian.PutUint64(h[32:], uint64(time.Now().UnixNano()))
			return append(h, body...)
		}, nil
	}
	return nil, fmt.Errorf("--attack %q: want stream, session, ahead, bomb or symbols", attack)
}
