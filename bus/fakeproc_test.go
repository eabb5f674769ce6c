package bus

import (
	"testing"

	"github.com/prometheus/procfs"

	"github.com/feedbus/feedbus/internal/proctest"
)

func fakeProc(t *testing.T, files map[string]string) procfs.FS { return proctest.FakeProc(t, files) }
