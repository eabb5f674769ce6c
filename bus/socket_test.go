package bus

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestCapable(t *testing.T) {
	status := func(capEff string) map[string]string {
		return map[string]string{
			"self":        "->4242",
			"4242/status": "Name:\tfeedsub\nPid:\t4242\nCapInh:\t0000000000000000\nCapEff:\t" + capEff + "\nCapBnd:\t000001ffffffffff\n",
		}
	}
	for _, tc := range []struct {
		capEff string
		want   bool
	}{
		{"000001ffffffffff", true},  // root
		{"0000000000002000", true},  // CAP_NET_RAW alone
		{"0000000000001000", false}, // CAP_NET_ADMIN alone
		{"0000000000000000", false},
	} {
		got, err := capable(fakeProc(t, status(tc.capEff)), capNetRaw)
		if err != nil || got != tc.want {
			t.Errorf("CapEff %s: capable = %v, %v; want %v", tc.capEff, got, err, tc.want)
		}
	}
	if _, err := capable(fakeProc(t, status("not-hex")), capNetRaw); err == nil {
		t.Error("CapEff not-hex: no error")
	}
	if _, err := capable(fakeProc(t, map[string]string{"self": "->4242"}), capNetRaw); err == nil {
		t.Error("no status file: no error")
	}
}

// TestPublisherRemovesSocketFile: libzmq leaves an ipc:// socket's file
// behind; the publisher that bound it removes it when it closes.
func TestPublisherRemovesSocketFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "feed")
	pub, err := NewPublisher([]string{"ipc://" + path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the bound socket file: %v", err)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after Close the socket file is still there (%v)", err)
	}
}
