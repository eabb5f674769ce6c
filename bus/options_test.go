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
