package affinity_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/feedbus/feedbus/affinity"
	"github.com/feedbus/feedbus/internal/proctest"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	proctest.WriteTree(t, root, files)
}

// fakeSys builds a sysfs tree of a two-socket host: CPUs 0-7, SMT pairs
// (0,2) (1,3) (4,6) (5,7), node 0 = 0-3, node 1 = 4-7, CPUs 2-3 and 6-7
// isolated, CPU 8 present but offline. eth0 is a PCI NIC on node 1, eth1
// a virtio NIC whose NUMA files sit on the parent PCI function (node 0),
// veth0 is virtual.
func fakeSys(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"devices/system/cpu/online":         "0-7\n",
		"devices/system/cpu/isolated":       "2-3,6-7\n",
		"devices/system/cpu/cpu8/online":    "0\n",
		"devices/system/node/online":        "0-1\n",
		"devices/system/node/possible":      "0-1\n",
		"devices/system/node/node0/cpulist": "0-3\n",
		"devices/system/node/node1/cpulist": "4-7\n",

		"devices/pci0000:00/0000:00:03.0/numa_node":      "0\n",
		"devices/pci0000:00/0000:00:03.0/local_cpulist":  "0-3\n",
		"devices/pci0000:00/0000:00:03.0/virtio2/vendor": "0x1af4\n",
		"devices/pci0000:80/0000:81:00.0/numa_node":      "1\n",
		"devices/pci0000:80/0000:81:00.0/local_cpulist":  "4-7\n",
		"class/net/eth0/device":                          "->../../../devices/pci0000:80/0000:81:00.0",
		"class/net/eth1/device":                          "->../../../devices/pci0000:00/0000:00:03.0/virtio2",
		"class/net/veth0/address":                        "aa:bb:cc:dd:ee:ff\n",
		"class/net/bonding_masters":                      "\n",
	}
	siblings := []string{"0,2", "1,3", "0,2", "1,3", "4,6", "5,7", "4,6", "5,7"}
	for cpu, sib := range siblings {
		dir := "devices/system/cpu/cpu" + string(rune('0'+cpu)) + "/topology/"
		files[dir+"thread_siblings_list"] = sib + "\n"
		files[dir+"core_id"] = string(rune('0'+cpu%2)) + "\n"
		files[dir+"physical_package_id"] = string(rune('0'+cpu/4)) + "\n"
	}
	writeTree(t, root, files)
	return root
}

func TestReadTopologyFake(t *testing.T) {
	topo, err := affinity.ReadTopologyFrom(fakeSys(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := topo.Online.String(); got != "0-7" {
		t.Errorf("Online = %q", got)
	}
	if got := topo.Isolated.String(); got != "2-3,6-7" {
		t.Errorf("Isolated = %q", got)
	}
	if len(topo.CPUs) != 8 {
		t.Fatalf("got %d CPUs, want 8", len(topo.CPUs))
	}
	if _, ok := topo.CPU(8); ok {
		t.Error("offline CPU 8 listed")
	}
	for _, want := range []affinity.CPU{
		{ID: 0, Core: 0, Package: 0, Node: 0, Siblings: mustSet(t, "0,2")},
		{ID: 3, Core: 1, Package: 0, Node: 0, Siblings: mustSet(t, "1,3"), Isolated: true},
		{ID: 5, Core: 1, Package: 1, Node: 1, Siblings: mustSet(t, "5,7")},
	} {
		if got, ok := topo.CPU(want.ID); !ok || got != want {
			t.Errorf("CPU(%d) = %+v, want %+v", want.ID, got, want)
		}
	}
	if len(topo.Nodes) != 2 || topo.Nodes[1].ID != 1 || topo.Nodes[1].CPUs.String() != "4-7" {
		t.Errorf("Nodes = %+v", topo.Nodes)
	}

	for _, want := range []affinity.NIC{
		{Name: "eth0", Device: true, Node: 1, LocalCPUs: mustSet(t, "4-7")},
		{Name: "eth1", Device: true, Node: 0, LocalCPUs: mustSet(t, "0-3")},
		{Name: "veth0", Device: false, Node: -1},
	} {
		if got, ok := topo.NIC(want.Name); !ok || got != want {
			t.Errorf("NIC(%s) = %+v, %v; want %+v", want.Name, got, ok, want)
		}
	}
	if _, ok := topo.NIC("bonding_masters"); ok {
		t.Error("bonding_masters listed as a NIC")
	}
	if len(topo.NICs) != 3 {
		t.Errorf("NICs = %+v, want 3", topo.NICs)
	}

	out := topo.String()
	for _, want := range []string{"isolated:  2-3,6-7", "node 1:    4-7", "SIBLINGS", "veth0", "no (virtual)"} {
		if !strings.Contains(out, want) {
			t.Errorf("Format output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("\n%s", out)
}

func TestReadTopologyMinimal(t *testing.T) {
	// A VM without NUMA, isolated, per-CPU topology or class/net.
	root := t.TempDir()
	writeTree(t, root, map[string]string{"devices/system/cpu/online": "0-1\n"})
	topo, err := affinity.ReadTopologyFrom(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Nodes) != 1 || topo.Nodes[0].ID != 0 || topo.Nodes[0].CPUs.String() != "0-1" {
		t.Errorf("Nodes = %+v, want node 0 with 0-1", topo.Nodes)
	}
	c, _ := topo.CPU(1)
	if c.Node != 0 || c.Core != -1 || c.Siblings.String() != "1" {
		t.Errorf("CPU(1) = %+v", c)
	}
	if topo.Isolated.Len() != 0 || len(topo.NICs) != 0 {
		t.Errorf("unexpected isolated %s or NICs %v", topo.Isolated, topo.NICs)
	}
}

func TestReadTopologyErrors(t *testing.T) {
	if _, err := affinity.ReadTopologyFrom(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing online file: err = %v, want ErrNotExist", err)
	}
	root := t.TempDir()
	writeTree(t, root, map[string]string{"devices/system/cpu/online": "0-x\n"})
	_, err := affinity.ReadTopologyFrom(root)
	if !errors.Is(err, affinity.ErrInvalidCPUList) || !strings.Contains(err.Error(), "devices/system/cpu/online") {
		t.Errorf("garbage online file: err = %v, want ErrInvalidCPUList naming the file", err)
	}
}

func mustSet(t *testing.T, s string) affinity.CPUSet {
	t.Helper()
	set, err := affinity.ParseCPUSet(s)
	if err != nil {
		t.Fatal(err)
	}
	return set
}
