package main

import (
	"context"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/internal/pace"
	"github.com/feedbus/feedbus/internal/synth"
)

type publisher struct {
	cfg *config
	pub *bus.Publisher
	src *synth.Source
	hdr bus.Header
	w   bus.FrameWriter
	msg bus.Message

	comp       *bus.Compressor
	frameStart time.Time // when the frame in progress got its first message
	wireBytes  uint64    // bytes of data frames sent, after compression
	lastSend   time.Time
	firstData  time.Time // first data frame sent
	lastData   time.Time // last data frame sent
	messages   uint64
	frames     uint64
	heartbeats uint64
}

// loop paces the feed. It sleeps until messages are due, then packs what
// is due into the frame in progress. A frame goes out when it is full, or
// when holding it for the next message would exceed --max-delay: at low
// rates every message leaves at once, at high rates frames fill up.
func (p *publisher) loop(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sleep := func(d time.Duration) bool {
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		}
	}

	start := time.Now()
	for now := start; now.Sub(start) < p.cfg.warmup; now = time.Now() {
		if err := p.sendHeartbeat(now); err != nil {
			return err
		}
		if !sleep(min(p.cfg.heartbeat, 100*time.Millisecond)) {
			return nil
		}
	}

	start = time.Now()
	pacer := pace.New(p.cfg.rate, start)
	perFrame := max(1, (p.cfg.frameBytes-bus.HeaderLen)/max(p.cfg.size, 32))
	batch := perFrame * 64
	for ctx.Err() == nil {
		now := time.Now()
		if p.cfg.duration > 0 && now.Sub(start) >= p.cfg.duration {
			break
		}
		n := batch
		if p.cfg.count > 0 {
			left := p.cfg.count - pacer.Total()
			if left == 0 {
				break
			}
			n = int(min(uint64(n), left))
		}
		n, wait := pacer.Due(now, n)
		if n > 0 {
			if err := p.addMessages(n, now); err != nil {
				return err
			}
			pacer.Sent(n)
			if _, wait = pacer.Due(now, 1); wait == 0 {
				continue // more are due already: keep filling
			}
		}
		if p.w.Count() > 0 {
			// Hold the frame only if the next message comes before its deadline.
			deadline := p.frameStart.Add(p.cfg.maxDelay)
			if !now.Add(wait).Before(deadline) {
				if err := p.flush(); err != nil {
					return err
				}
			} else {
				sleep(deadline.Sub(now))
				continue
			}
		} else if now.Sub(p.lastSend) >= p.cfg.heartbeat {
			if err := p.sendHeartbeat(now); err != nil {
				return err
			}
		}
		if wait > 0 {
			sleep(min(wait, p.cfg.heartbeat))
		}
	}
	if p.w.Count() > 0 {
		if err := p.flush(); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	// Let subscribers see the last sequence number and repair any tail
	// loss while the PGM window still holds the data.
	for end := time.Now().Add(p.cfg.linger); time.Now().Before(end); {
		if err := p.sendHeartbeat(time.Now()); err != nil {
			return err
		}
		if !sleep(min(p.cfg.heartbeat, 100*time.Millisecond)) {
			return nil
		}
	}
	return nil
}

// addMessages adds n messages to the frame in progress, sending frames as
// they fill up.
func (p *publisher) addMessages(n int, now time.Time) error {
	for i := 0; i < n; i++ {
		p.src.Next(&p.msg)
		if p.w.Count() > 0 && p.w.Len()+p.msg.EncodedLen() > p.cfg.frameBytes {
			if err := p.flush(); err != nil {
				return err
			}
		}
		if p.w.Count() == 0 {
			p.hdr.Flags = 0
			p.w.Begin(&p.hdr)
			p.frameStart = now
		}
		if err := p.w.Add(&p.msg); err != nil {
			return err
		}
	}
	return nil
}

// flush stamps, compresses and sends the frame in progress and moves the
// sequence on.
func (p *publisher) flush() error {
	now := time.Now()
	frame := p.comp.Compress(p.w.Finish(now.UnixNano()))
	if err := p.pub.Send(frame); err != nil {
		return err
	}
	if p.frames == 0 {
		p.firstData = now
	}
	p.lastSend, p.lastData = now, now
	p.frames++
	p.wireBytes += uint64(len(frame))
	p.messages += uint64(p.w.Count())
	p.hdr.FirstSeq += uint64(p.w.Count())
	p.w.Begin(&p.hdr) // empty: Count() is 0 until the next Add
	return nil
}

func (p *publisher) sendHeartbeat(now time.Time) error {
	h := p.hdr
	h.Flags = bus.FlagHeartbeat
	p.w.Begin(&h)
	if err := p.pub.Send(p.w.Finish(now.UnixNano())); err != nil {
		return err
	}
	p.lastSend = now
	p.heartbeats++
	return nil
}
