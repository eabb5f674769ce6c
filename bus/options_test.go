package bus

import (
	"errors"
	"testing"
	"time"
)

func TestWithSpin(t *testing.T) {
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{{0, true}, {10 * time.Millisecond, true}, {time.Minute, true}, {-time.Nanosecond, false}, {time.Minute + 1, false}} {
		o := DefaultOptions()
		err := WithSpin(tc.d)(&o)
		if tc.ok != (err == nil) {
			t.Errorf("WithSpin(%v) = %v, want ok %v", tc.d, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrOption) {
			t.Errorf("WithSpin(%v) error %v does not match ErrOption", tc.d, err)
		}
		if err == nil && o.Spin != tc.d {
			t.Errorf("WithSpin(%v) set Spin %v", tc.d, o.Spin)
		}
	}
	if DefaultOptions().Spin != 0 {
		t.Errorf("subscribers spin by default")
	}
}

func TestBufferWarnings(t *testing.T) {
	fs := fakeProc(t, map[string]string{
		"sys/net/core/wmem_max": "212992\n",
		"sys/net/core/rmem_max": "8388608\n",
	})
	got := bufferWarnings(fs, 8<<20, 8<<20)
	want := "send buffer 8388608 bytes is clamped to net.core.wmem_max=212992; raise it with: sysctl -w net.core.wmem_max=8388608"
	if len(got) != 1 || got[0] != want {
		t.Errorf("bufferWarnings = %q, want [%q]", got, want)
	}
	if got := bufferWarnings(fs, 0, 8<<20); len(got) != 0 {
		t.Errorf("receive buffer at the limit: %q", got)
	}
	// An unreadable or odd sysctl warns of nothing, as before a limit is known.
	odd := fakeProc(t, map[string]string{"sys/net/core/rmem_max": "lots\n"})
	if got := bufferWarnings(odd, 8<<20, 8<<20); len(got) != 0 {
		t.Errorf("no wmem_max, odd rmem_max: %q", got)
	}
}
