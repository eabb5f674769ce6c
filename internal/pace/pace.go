// Package pace spreads messages evenly over time at a target rate without
// spinning: the caller sleeps until the next message is due, and sends
// whatever has come due since in one go, so a low rate costs almost no CPU
// and a high one is met in batches.
//
// A Pacer is not safe for concurrent use.
package pace

import "time"

// Pacer tracks how many messages are due at a fixed rate since a start.
type Pacer struct {
	rate  float64 // messages per second; 0 means no limit
	start time.Time
	sent  uint64
}

// New returns a Pacer for rate messages a second, counting from start. A
// rate of 0 means as fast as possible.
func New(rate float64, start time.Time) *Pacer {
	return &Pacer{rate: rate, start: start}
}

// Due returns how many messages are due at now and not yet sent, at most
// max. When none is due it returns how long until the next one is.
func (p *Pacer) Due(now time.Time, max int) (n int, wait time.Duration) {
	if p.rate <= 0 {
		return max, 0
	}
	elapsed := now.Sub(p.start).Seconds()
	due := uint64(elapsed * p.rate)
	if due > p.sent {
		if d := due - p.sent; d < uint64(max) {
			return int(d), 0
		}
		return max, 0
	}
	next := time.Duration(float64(p.sent+1) / p.rate * float64(time.Second))
	return 0, next - now.Sub(p.start)
}

// Sent records that n messages went out.
func (p *Pacer) Sent(n int) { p.sent += uint64(n) }

// Total is the number of messages sent so far.
func (p *Pacer) Total() uint64 { return p.sent }
