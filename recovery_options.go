package feedbus

import (
	"fmt"
	"strings"
	"time"

	"github.com/feedbus/feedbus/recovery"
)

// Recovery defaults (WithRecovery).
const (
	// DefaultHoldBytes bounds the frames held behind a hole while it waits
	// to be filled: 64 MiB, about 45,000 full 1,400-byte frames, or
	// 3 s of a 1 M msg/s feed of 64-byte messages.
	DefaultHoldBytes = 64 << 20
	// DefaultHoldWait is how long, past the gap wait, a hole may hold the
	// messages behind it back while recovery servers are asked: four
	// request timeouts, time for a failover and a retry.
	DefaultHoldWait = 2 * time.Second
)

// WithRecovery names recovery servers (feedcache, docs/recovery.md), in
// the order to try them: tcp://HOST:PORT or ipc://PATH. With it the
// subscriber delivers the followed session strictly in sequence order: a
// frame after a hole is held until the hole is filled, by another line
// within the gap wait or by a server after it, or given up (WithHold
// bounds the wait and the memory), and what cannot be recovered is a gap
// as before. A subscriber that finds its first session mid-stream first
// takes a snapshot of the books (WithSnapshot). A server that does not
// answer within the timeout is left for the next (WithRecoveryTimeout).
func WithRecovery(endpoints ...string) SubscriberOption {
	return func(c *subscriberConfig) error {
		if len(endpoints) == 0 {
			return fmt.Errorf("%w: no recovery endpoint", ErrOption)
		}
		for _, e := range endpoints {
			if !strings.HasPrefix(e, "tcp://") && !strings.HasPrefix(e, "ipc://") {
				return fmt.Errorf("%w: recovery endpoint %q: want tcp://HOST:PORT or ipc://PATH", ErrOption, e)
			}
		}
		c.recovery = append([]string(nil), endpoints...)
		return nil
	}
}

// WithRecoveryTimeout sets how long a recovery server may take to answer
// (its first reply, or the next) before the request goes to the next
// server, and how many sends in all a request gets before it is given up.
// Defaults: recovery.DefaultTimeout and recovery.DefaultTries.
func WithRecoveryTimeout(timeout time.Duration, tries int) SubscriberOption {
	return func(c *subscriberConfig) error {
		if timeout <= 0 || tries <= 0 {
			return fmt.Errorf("%w: recovery timeout %v and tries %d must be positive", ErrOption, timeout, tries)
		}
		c.recoveryCfg = recovery.ClientConfig{Timeout: timeout, Tries: tries}
		return nil
	}
}

// WithHold bounds what a hole holds back under WithRecovery: at most
// bytes of frames (0: no limit), and for at most wait past the gap wait.
// Past either the hole is given up: it becomes a gap and the frames behind
// it are delivered. Defaults: DefaultHoldBytes, DefaultHoldWait.
func WithHold(bytes int, wait time.Duration) SubscriberOption {
	return func(c *subscriberConfig) error {
		if bytes < 0 || wait <= 0 {
			return fmt.Errorf("%w: hold %d bytes for %v: want bytes >= 0 and a positive wait", ErrOption, bytes, wait)
		}
		c.holdBytes, c.holdWait = bytes, wait
		return nil
	}
}

// WithSnapshot says whether a subscriber with WithRecovery that finds its
// first session mid-stream takes a snapshot before anything else (the
// default), or starts where it joined, as without recovery. Snapshot
// records reach the handlers first, marked Message.Snapshot; with
// WithTopics the snapshot is of those prefixes only.
func WithSnapshot(on bool) SubscriberOption {
	return func(c *subscriberConfig) error {
		c.snapshot = on
		return nil
	}
}
