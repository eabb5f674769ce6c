package feedbus_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestREADMEProgram builds and runs the program of the README's "Using
// feedbus from Go" as a reader would, in a module of its own that requires
// this one, and checks that it prints what it promises: the application's
// own message, then every message received and no gap.
func TestREADMEProgram(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Using feedbus from Go\n")
	_, program, ok2 := strings.Cut(section, "\n```go\n")
	program, _, ok3 := strings.Cut(program, "\n```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal(`README: no go block under "## Using feedbus from Go"`)
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mod := "module readmeprogram\n\ngo 1.26.8\n\nrequire github.com/feedbus/feedbus v0.0.0\n\nreplace github.com/feedbus/feedbus => " + root + "\n"
	for name, data := range map[string]string{"go.mod": mod, "go.sum": string(sum), "main.go": program + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "-mod=mod", ".")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run the README's program: %v\n%s", err, out)
	}
	for _, want := range []string{"3 AAPL news: halted\n", "3 received, 0 gaps\n", "AAPL  "} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the README's program did not print %q; it printed:\n%s", want, out)
		}
	}
}
