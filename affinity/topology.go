package affinity

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Topology is a snapshot of the host's CPU, NUMA and NIC layout as sysfs
// describes it. It is not updated when CPUs go on- or offline.
type Topology struct {
	Online   CPUSet // devices/system/cpu/online
	Isolated CPUSet // devices/system/cpu/isolated (isolcpus=); empty if none
	CPUs     []CPU  // online CPUs, ascending by ID
	Nodes    []Node // NUMA nodes, ascending by ID; one node 0 if sysfs has none
	NICs     []NIC  // network interfaces under class/net, ascending by name
}

// CPU describes one online logical CPU.
type CPU struct {
	ID       int
	Core     int    // topology/core_id; -1 if unknown
	Package  int    // topology/physical_package_id; -1 if unknown
	Node     int    // NUMA node; -1 if no node lists it
	Siblings CPUSet // SMT threads of the same core, the CPU itself included
	Isolated bool
}

// Node is a NUMA node and its CPUs.
type Node struct {
	ID   int
	CPUs CPUSet
}

// NIC is a network interface and where its device sits.
type NIC struct {
	Name string
	// Device is false for virtual interfaces (lo, veth, bridges, ifb),
	// which have no device and so no NUMA locality; Node is then -1.
	Device    bool
	Node      int    // NUMA node of the device; -1 if unknown or none
	LocalCPUs CPUSet // device/local_cpulist; empty if unknown
}

// ReadTopologyFrom reads the topology from a sysfs tree rooted at sysRoot,
// normally "/sys". Files that older kernels or virtual machines lack
// (isolated, NUMA nodes, per-CPU topology, NIC locality) are optional;
// the online list is not. procfs's sysfs package is not used: it has no
// reader for the online list, node cpulists or local_cpulist, and its
// CPU.Topology fails on any missing file where this one degrades.
func ReadTopologyFrom(sysRoot string) (*Topology, error) {
	cpuDir := filepath.Join(sysRoot, "devices/system/cpu")
	online, err := readCPUList(filepath.Join(cpuDir, "online"), false)
	if err != nil {
		return nil, err
	}
	isolated, err := readCPUList(filepath.Join(cpuDir, "isolated"), true)
	if err != nil {
		return nil, err
	}
	t := &Topology{Online: online, Isolated: isolated}

	t.Nodes, err = readNodes(filepath.Join(sysRoot, "devices/system/node"))
	if err != nil {
		return nil, err
	}
	if len(t.Nodes) == 0 {
		t.Nodes = []Node{{ID: 0, CPUs: online}}
	}

	t.CPUs = make([]CPU, 0, online.Len())
	for id := online.next(0); id >= 0; id = online.next(id + 1) {
		c, err := readCPU(cpuDir, id)
		if err != nil {
			return nil, err
		}
		c.Isolated = isolated.Contains(id)
		for _, n := range t.Nodes {
			if n.CPUs.Contains(id) {
				c.Node = n.ID
				break
			}
		}
		t.CPUs = append(t.CPUs, c)
	}

	t.NICs, err = readNICs(filepath.Join(sysRoot, "class/net"))
	if err != nil {
		return nil, err
	}
	return t, nil
}

func readCPU(cpuDir string, id int) (CPU, error) {
	c := CPU{ID: id, Core: -1, Package: -1, Node: -1}
	c.Siblings.set(id)
	topo := filepath.Join(cpuDir, "cpu"+strconv.Itoa(id), "topology")
	sib, err := readCPUList(filepath.Join(topo, "thread_siblings_list"), true)
	if err != nil {
		return CPU{}, err
	}
	if sib.Len() > 0 {
		c.Siblings = sib
	}
	if c.Core, err = readInt(filepath.Join(topo, "core_id"), -1); err != nil {
		return CPU{}, err
	}
	if c.Package, err = readInt(filepath.Join(topo, "physical_package_id"), -1); err != nil {
		return CPU{}, err
	}
	return c, nil
}

func readNodes(dir string) ([]Node, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // kernel without CONFIG_NUMA
	}
	if err != nil {
		return nil, fmt.Errorf("affinity: read numa nodes: %w", err)
	}
	var nodes []Node
	for _, e := range entries {
		id, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "node"))
		if err != nil || !strings.HasPrefix(e.Name(), "node") {
			continue // has_cpu, online, possible, ...
		}
		cpus, err := readCPUList(filepath.Join(dir, e.Name(), "cpulist"), true)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, Node{ID: id, CPUs: cpus})
	}
	slices.SortFunc(nodes, func(a, b Node) int { return a.ID - b.ID })
	return nodes, nil
}

func readNICs(dir string) ([]NIC, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("affinity: read network interfaces: %w", err)
	}
	nics := make([]NIC, 0, len(entries))
	for _, e := range entries {
		if fi, err := os.Stat(filepath.Join(dir, e.Name())); err != nil || !fi.IsDir() {
			continue // bonding_masters is a file here, not an interface
		}
		nic, err := readNIC(dir, e.Name())
		if err != nil {
			return nil, err
		}
		nics = append(nics, nic)
	}
	return nics, nil // ReadDir sorts by name
}

func readNIC(netDir, name string) (NIC, error) {
	nic := NIC{Name: name, Node: -1}
	dev, err := filepath.EvalSymlinks(filepath.Join(netDir, name, "device"))
	if errors.Is(err, fs.ErrNotExist) {
		return nic, nil // virtual interface
	}
	if err != nil {
		return NIC{}, fmt.Errorf("affinity: nic %s: %w", name, err)
	}
	nic.Device = true
	// A virtio NIC's device is the virtio device, and the NUMA files sit
	// on the PCI function above it.
	for _, d := range []string{dev, filepath.Dir(dev)} {
		if _, err := os.Stat(filepath.Join(d, "numa_node")); err != nil {
			continue
		}
		if nic.Node, err = readInt(filepath.Join(d, "numa_node"), -1); err != nil {
			return NIC{}, err
		}
		if nic.LocalCPUs, err = readCPUList(filepath.Join(d, "local_cpulist"), true); err != nil {
			return NIC{}, err
		}
		break
	}
	if nic.Node < 0 {
		nic.Node = -1 // the kernel writes -1 when the device has no node
	}
	return nic, nil
}

// readCPUList reads a cpu-list file; a missing optional file is empty.
func readCPUList(path string, optional bool) (CPUSet, error) {
	b, err := os.ReadFile(path)
	if optional && errors.Is(err, fs.ErrNotExist) {
		return CPUSet{}, nil
	}
	if err != nil {
		return CPUSet{}, fmt.Errorf("affinity: %w", err)
	}
	set, err := parseCPUList(string(b))
	if err != nil {
		return CPUSet{}, fmt.Errorf("%w in %s: %v", ErrInvalidCPUList, path, err)
	}
	return set, nil
}

// readInt reads a file holding one integer; a missing file gives def.
func readInt(path string, def int) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return def, nil
	}
	if err != nil {
		return 0, fmt.Errorf("affinity: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("affinity: %s: not an integer: %q", path, strings.TrimSpace(string(b)))
	}
	return n, nil
}

// CPU returns the online CPU with the given id.
func (t *Topology) CPU(id int) (CPU, bool) {
	i, ok := slices.BinarySearchFunc(t.CPUs, id, func(c CPU, id int) int { return c.ID - id })
	if !ok {
		return CPU{}, false
	}
	return t.CPUs[i], true
}

// NIC returns the network interface with the given name.
func (t *Topology) NIC(name string) (NIC, bool) {
	for _, n := range t.NICs {
		if n.Name == name {
			return n, true
		}
	}
	return NIC{}, false
}

// String returns the table Format writes.
func (t *Topology) String() string {
	var b strings.Builder
	t.Format(&b)
	return b.String()
}

// Format writes the topology as readable tables: a summary, one row per
// online CPU and one row per network interface.
func (t *Topology) Format(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "online:\t%s\n", orDash(t.Online))
	fmt.Fprintf(tw, "isolated:\t%s\n", orDash(t.Isolated))
	for _, n := range t.Nodes {
		fmt.Fprintf(tw, "node %d:\t%s\n", n.ID, orDash(n.CPUs))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(tw, "\nCPU\tCORE\tPACKAGE\tNODE\tSIBLINGS\tISOLATED")
	for _, c := range t.CPUs {
		iso := "-"
		if c.Isolated {
			iso = "yes"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", c.ID, intOrDash(c.Core),
			intOrDash(c.Package), intOrDash(c.Node), c.Siblings, iso)
	}
	if len(t.NICs) > 0 {
		fmt.Fprintln(tw, "\nNIC\tDEVICE\tNODE\tLOCAL CPUS")
		for _, n := range t.NICs {
			dev := "no (virtual)"
			if n.Device {
				dev = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, dev, intOrDash(n.Node), orDash(n.LocalCPUs))
		}
	}
	return tw.Flush()
}

func orDash(s CPUSet) string {
	if s.Len() == 0 {
		return "-"
	}
	return s.String()
}

func intOrDash(n int) string {
	if n < 0 {
		return "-"
	}
	return strconv.Itoa(n)
}
