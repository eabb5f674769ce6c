package affinity

import (
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"
)

// Locking in init keeps the main goroutine, and so TestMain, on the
// process's main thread: the one thread NameCurrentThread must not rename.
func init() { runtime.LockOSThread() }

// mainThreadNaming is what NameCurrentThread did on the main thread, and
// the process's name afterwards; TestNameMainThread judges them.
var mainThreadNaming struct {
	err  error
	comm string
}

func TestMain(m *testing.M) {
	mainThreadNaming.err = NameCurrentThread("feedsub/recv")
	if self, err := procfs.Self(); err == nil {
		mainThreadNaming.comm, _ = self.Comm()
	}
	os.Exit(m.Run())
}

func TestNameMainThread(t *testing.T) {
	if !errors.Is(mainThreadNaming.err, ErrMainThread) {
		t.Errorf("naming the main thread: %v, want ErrMainThread", mainThreadNaming.err)
	}
	if mainThreadNaming.comm == "feedsub/recv" {
		t.Errorf("the process was renamed to %q", mainThreadNaming.comm)
	}
}

func TestNameOtherThread(t *testing.T) {
	runtime.LockOSThread() // never unlocked: the renamed thread ends with the test
	if err := NameCurrentThread("feedbus/test"); err != nil {
		t.Fatal(err)
	}
	p, err := procfs.NewDefaultFS()
	if err != nil {
		t.Fatal(err)
	}
	thread, err := p.Thread(os.Getpid(), unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	got, err := thread.Comm()
	if err != nil {
		t.Fatal(err)
	}
	if got != "feedbus/test" {
		t.Errorf("thread name %q, want feedbus/test", got)
	}
}
