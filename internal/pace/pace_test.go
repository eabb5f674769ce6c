package pace

import (
	"testing"
	"time"
)

func TestPacerSpreadsMessages(t *testing.T) {
	start := time.Unix(0, 0)
	p := New(1000, start) // one message a millisecond
	if n, wait := p.Due(start, 100); n != 0 || wait != time.Millisecond {
		t.Fatalf("at start: n=%d wait=%v, want 0 and 1ms", n, wait)
	}
	if n, _ := p.Due(start.Add(10*time.Millisecond), 100); n != 10 {
		t.Fatalf("after 10ms: %d due, want 10", n)
	}
	p.Sent(10)
	if n, wait := p.Due(start.Add(10*time.Millisecond+300*time.Microsecond), 100); n != 0 || wait != 700*time.Microsecond {
		t.Fatalf("just after: n=%d wait=%v, want 0 and 700µs", n, wait)
	}
	// Falling behind is caught up, in batches of at most max.
	if n, _ := p.Due(start.Add(time.Second), 100); n != 100 {
		t.Fatalf("after 1s: %d due, want the cap 100", n)
	}
}

func TestPacerUnlimited(t *testing.T) {
	p := New(0, time.Now())
	if n, wait := p.Due(time.Now(), 64); n != 64 || wait != 0 {
		t.Fatalf("unlimited: n=%d wait=%v", n, wait)
	}
}
