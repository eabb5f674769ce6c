package main

import (
	"strings"
	"testing"
	"time"

	"github.com/feedbus/feedbus/affinity"
)

func TestSpinWarning(t *testing.T) {
	cpu := func(n int) *int { return &n }
	workers, err := affinity.NewCPUSet(2, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		spin time.Duration
		plan affinity.Plan
		want string // "" for no warning
	}{
		{"no spin", 0, affinity.Plan{}, ""},
		{"unpinned", 10 * time.Millisecond, affinity.Plan{}, "give it one of its own with --pin-recv"},
		{"own cpu", 10 * time.Millisecond, affinity.Plan{Recv: cpu(1), IO: []int{0}, Workers: workers}, ""},
		{"with io", 10 * time.Millisecond, affinity.Plan{Recv: cpu(0), IO: []int{0, 1}}, "CPU 0 also runs line A's I/O thread,"},
		{"with workers", time.Millisecond, affinity.Plan{Recv: cpu(3), IO: []int{0}, Workers: workers}, "CPU 3 also runs workers,"},
	} {
		got := spinWarning(tc.spin, tc.plan)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: spinWarning = %q, want it to contain %q", tc.name, got, tc.want)
		}
	}
}
