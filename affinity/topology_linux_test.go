package affinity_test

import (
	"runtime"
	"testing"

	"github.com/feedbus/feedbus/affinity"
)

func TestReadTopologyReal(t *testing.T) {
	topo, err := affinity.ReadTopology()
	if err != nil {
		t.Fatal(err)
	}
	if topo.Online.Len() == 0 || len(topo.CPUs) != topo.Online.Len() {
		t.Fatalf("online %s but %d CPUs", topo.Online, len(topo.CPUs))
	}
	if n := topo.Online.Len(); n != runtime.NumCPU() {
		// NumCPU counts the CPUs this process may use.
		allowed, err := affinity.CPUsAllowed(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if allowed.Len() == n {
			t.Errorf("%d CPUs online (%s) but runtime.NumCPU() = %d", n, topo.Online, runtime.NumCPU())
		}
	}
	for _, c := range topo.CPUs {
		if !c.Siblings.Contains(c.ID) {
			t.Errorf("cpu %d not among its own siblings %s", c.ID, c.Siblings)
		}
		if c.Node < 0 {
			t.Errorf("cpu %d in no NUMA node", c.ID)
		}
	}
	t.Logf("\n%s", topo)
}
