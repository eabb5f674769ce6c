// Command feednoise publishes random bytes on a feedbus line, to show that
// subscribers count garbage as malformed and lose nothing of the real feed.
// It is a test tool: never point it at a production group.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/cli"
)

func main() { cli.Main("feednoise", run) }

func run(ctx context.Context, args []string, _, stderr io.Writer) error {
	var lines cli.Strings
	fs := flag.NewFlagSet("feednoise", flag.ContinueOnError)
	fs.Var(&lines, "line", "endpoint to send noise on, repeatable")
	rate := fs.Int("rate", 1000, "noise messages per second")
	duration := fs.Duration("duration", 5*time.Second, "how long to send")
	maxLen := fs.Int("max-len", 2000, "longest noise message in bytes")
	if err := cli.Parse(fs, args, stderr); err != nil {
		return err
	}
	if *rate <= 0 || *maxLen <= 0 {
		return cli.Usagef("--rate and --max-len must be positive")
	}
	pub, err := bus.NewPublisher(lines)
	if err != nil {
		return err
	}
	defer pub.Close()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	buf := make([]byte, min(*maxLen, pub.MaxFrame())) // a udp:// line takes a datagram at most
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	defer tick.Stop()
	end := time.After(*duration)
	sent := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-end:
			fmt.Fprintf(stderr, "feednoise: sent %d noise messages\n", sent)
			return nil
		case <-tick.C:
		}
		b := buf[:1+rng.IntN(len(buf))]
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		// Now and then, noise that looks like a frame header, to reach
		// past the magic check.
		if sent%4 == 0 && len(b) >= 6 {
			copy(b, bus.Magic)
			b[4] = bus.Version
		}
		if err := pub.Send(b); err != nil {
			return err
		}
		sent++
	}
}
