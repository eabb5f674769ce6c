// Package proctest builds fake /proc and /sys trees for tests of code that
// reads them through procfs.
package proctest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/procfs"
)

// WriteTree creates files (path → content) under root; a content of
// "->target" makes a symlink instead.
func WriteTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for path, content := range files {
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FakeProc writes files as WriteTree does under a new temporary directory
// and opens it as procfs opens /proc.
func FakeProc(t testing.TB, files map[string]string) procfs.FS {
	t.Helper()
	root := t.TempDir()
	WriteTree(t, root, files)
	fs, err := procfs.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}
