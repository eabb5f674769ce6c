package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedbus/feedbus/affinity"
	"github.com/feedbus/feedbus/capture"
	"github.com/feedbus/feedbus/internal/cli"
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

// TestRefusedCaptureKeepsFile: a --capture the writer refuses (more lines
// than a capture holds) is a usage error that leaves an existing file as
// it was, not emptied.
func TestRefusedCaptureKeepsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "feed.pcapng")
	const old = "an earlier capture"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--capture", path, "--idle", "1s"}
	for i := range capture.MaxLines + 1 {
		args = append(args, "--line", "ipc://"+filepath.Join(dir, fmt.Sprintf("line%d", i)))
	}
	var stderr bytes.Buffer
	err := run(context.Background(), args, io.Discard, &stderr)
	if !errors.As(err, new(cli.UsageError)) || !strings.Contains(err.Error(), "--capture") {
		t.Fatalf("run: %v, want a --capture usage error; stderr:\n%s", err, stderr.String())
	}
	if got, _ := os.ReadFile(path); string(got) != old {
		t.Fatalf("the refused --capture left %q in the file, want %q", got, old)
	}
}
