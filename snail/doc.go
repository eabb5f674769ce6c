// Package snail implements the "suicidal snail" check of the ZeroMQ guide
// for feedbus subscribers: a subscriber that finds its data too old, or
// finds holes in the sequence, must say that it cannot keep up instead of
// silently serving stale or incomplete market data.
//
// # Use
//
//	cfg := snail.DefaultConfig()
//	d, err := snail.New(cfg)
//	recv := d.Probe("recv")        // one probe per goroutine
//	w3 := d.Probe("worker 3")
//	...
//	recv.Observe(now, frame.SendTime) // in the receive loop
//	recv.Gap(now, missing)            // sequence hole seen by the receive loop
//	w3.Observe(now, msg.SendTime)     // where the worker takes the message,
//	                                  // so time spent queued counts as lag
//	w3.Drop(now, 1)                   // message dropped on a full queue
//	...
//	v := <-d.Verdicts() // warn or exit: the caller decides
//
// All times are nanoseconds since the Unix epoch (wall clock), the same
// clock the publisher stamps frames with. The caller passes now, which it
// already reads once per frame, so the detector never reads a clock and
// tests can feed it any timeline.
//
// # Concurrency and lifetime
//
// A Detector is safe for concurrent use. A Probe belongs to one goroutine:
// Observe, Gap, Drop and ResetBaseline must only be called by that
// goroutine; Name and Last may be called from any goroutine. On the hot
// path (Observe, Gap, Drop) a probe allocates nothing, makes no system
// calls and takes no locks: it publishes its counters with atomic stores,
// so Detector.Stats, Detector.Trips and Probe.Last can read them from
// another goroutine at any time. The rare trip itself additionally does
// one non-blocking send on the verdict channel.
//
// A Detector starts no goroutines and holds no resources, so it needs no
// Close; it lives as long as it is referenced. The verdict channel is never
// closed.
//
// # Lag modes
//
// LagAbsolute judges the raw lag, now − send time. It is only meaningful
// when the publisher and subscriber clocks agree to well under MaxLag: with
// the publisher 200 ms behind, every message already looks 200 ms late and
// MaxLag 100ms trips at once; with the publisher ahead, raw lags are
// negative and real lag is hidden by the offset.
//
// LagExcess, the default, judges the excess of the lag over the lowest lag
// this probe has ever seen. That minimum approximates the clock offset plus
// the floor of the network latency, so the excess is the part of the lag
// the subscriber is responsible for (queueing, slow processing), whichever
// way the clocks are skewed. It is the default because two hosts' clocks
// are never perfectly aligned, and a wrong offset in either direction gives
// false trips or blindness in absolute mode. Its limits: it cannot see a
// subscriber that is already slow from its very first message (that lag
// becomes the baseline), and a change of publisher host (another clock)
// shifts the baseline; call Probe.ResetBaseline then. Clock drift between
// the hosts accumulates into the excess, which NTP keeps to milliseconds.
//
// # Trips
//
// Lag trips when the judged value is strictly greater than MaxLag (exactly
// MaxLag does not trip). A tripped probe does not trip again until the
// value falls to RearmLag or below (hysteresis, so a lag hovering around
// the threshold does not spam), but it keeps counting the observations and
// the time spent over the threshold.
//
// Gaps (missing sequence numbers) and drops (messages discarded on a full
// queue) are counted together in tumbling windows of length Window, keyed
// on now. The probe trips when the count in the current window is greater
// than MaxGaps; MaxGaps 0 therefore trips on any loss, which is the default
// because an unrecoverable hole in market data leaves the book wrong.
// Tumbling windows are cheap but coarse: a burst straddling a window edge
// can reach up to twice MaxGaps without tripping. A gap-tripped probe
// re-arms when a window ends at or under MaxGaps. A negative MaxLag or
// MaxGaps disables that check; the statistics are still kept.
//
// Every trip increments Detector.Trips, is recorded as the probe's last
// verdict, and is offered to the channel returned by Detector.Verdicts. The
// channel has a buffer of one and the send never blocks: if a verdict is
// already waiting, the new one is not queued (it is still counted and
// recorded). A caller that wants to act on the first verdict just receives
// once; one that wants to log every verdict keeps draining the channel.
package snail
