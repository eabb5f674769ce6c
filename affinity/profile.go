package affinity

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/BurntSushi/toml"
)

// Profile is a host's pinning profile, loaded from TOML by LoadProfile.
// Lines are the feed lines in configuration order; line i's I/O thread is
// libzmq's ZMQbg/IO/i.
type Profile struct {
	IO      []int    // pin_io: IO[i] is the CPU of line i's I/O thread
	Recv    *int     // pin_recv: CPU of the receive/send loop; nil = unpinned
	Workers CPUSet   // pin_workers: worker i on the i-th lowest CPU; empty = unpinned
	NICs    []string // nic: NICs[i] is the interface line i uses; "" = unknown
}

// profileFile is the TOML layout. pin_workers is decoded loosely so that
// a list of ints gets a helpful error rather than a type mismatch.
type profileFile struct {
	PinIO      []int    `toml:"pin_io"`
	PinRecv    *int     `toml:"pin_recv"`
	PinWorkers any      `toml:"pin_workers"`
	NIC        []string `toml:"nic"`
}

const profileKeys = "pin_io, pin_recv, pin_workers, nic"

// LoadProfile reads a TOML host profile:
//
//	pin_io      = [2, 3]           # CPU of each line's libzmq I/O thread, in line order
//	pin_recv    = 4                # CPU of the receive/send loop
//	pin_workers = "5-7"            # cpu-list string; one worker per CPU, ascending
//	nic         = ["eth0", "eth1"] # NIC of each line, in line order
//
// Every key is optional; an absent key leaves those threads unpinned.
// Unknown keys are an error, so a typo does not silently unpin a thread.
// CPU numbers are range-checked here; whether they are online is checked
// by Plan.Validate against the host's Topology.
func LoadProfile(path string) (Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Profile{}, fmt.Errorf("affinity: load profile: %w", err)
	}
	var f profileFile
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return Profile{}, fmt.Errorf("affinity: load profile %s: %w", path, err)
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = strconv.Quote(k.String())
		}
		return Profile{}, fmt.Errorf("%w %s in %s (known: %s)",
			ErrUnknownKey, strings.Join(names, ", "), path, profileKeys)
	}

	p := Profile{IO: f.PinIO, Recv: f.PinRecv, NICs: f.NIC}
	for i, c := range p.IO {
		if c < 0 || c >= MaxCPUs {
			return Profile{}, fmt.Errorf("%w: pin_io[%d] = %d in %s (want 0-%d)",
				ErrCPUOutOfRange, i, c, path, MaxCPUs-1)
		}
	}
	if p.Recv != nil && (*p.Recv < 0 || *p.Recv >= MaxCPUs) {
		return Profile{}, fmt.Errorf("%w: pin_recv = %d in %s (want 0-%d)",
			ErrCPUOutOfRange, *p.Recv, path, MaxCPUs-1)
	}
	switch w := f.PinWorkers.(type) {
	case nil:
	case string:
		if p.Workers, err = parseCPUList(w); err != nil {
			return Profile{}, fmt.Errorf("%w %q (pin_workers in %s): %v", ErrInvalidCPUList, w, path, err)
		}
	default:
		return Profile{}, fmt.Errorf("%w: pin_workers in %s must be a cpu-list string such as \"2-5\", not %s",
			ErrInvalidProfile, path, strings.ToLower(md.Type("pin_workers")))
	}
	return p, nil
}

// Override is a command-line value that replaces the profile's when Set,
// even if Value is the zero value (which then means "unpinned").
type Override[T any] struct {
	Value T
	Set   bool
}

func (o *Override[T]) set(v T) { o.Value, o.Set = v, true }

// Overrides are command-line replacements for Profile fields.
type Overrides struct {
	IO      Override[[]int]    // replaces Profile.IO
	Recv    Override[*int]     // replaces Profile.Recv; a nil Value unpins
	Workers Override[CPUSet]   // replaces Profile.Workers
	NICs    Override[[]string] // replaces Profile.NICs
}

// RegisterFlags defines -pin-io, -pin-recv, -pin-workers and -nic on fs,
// storing into o. Each accepts "none" to unpin what the profile pins.
func (o *Overrides) RegisterFlags(fs *flag.FlagSet) {
	fs.Func("pin-io", "comma-separated `cpus` of the lines' libzmq I/O threads, in line order (overrides pin_io; \"none\" unpins)",
		func(s string) error {
			v, err := parseIntList(s)
			if err == nil {
				o.IO.set(v)
			}
			return err
		})
	fs.Func("pin-recv", "`cpu` of the receive/send loop (overrides pin_recv; \"none\" unpins)", func(s string) error {
		if isNone(s) {
			o.Recv.set(nil)
			return nil
		}
		c, err := parseNum(s, "cpu", MaxCPUs-1)
		if err == nil {
			o.Recv.set(&c)
		}
		return err
	})
	fs.Func("pin-workers", "`cpu-list` of the workers, e.g. 2-5, one worker per cpu (overrides pin_workers; \"none\" unpins)",
		func(s string) error {
			if isNone(s) {
				o.Workers.set(CPUSet{})
				return nil
			}
			set, err := parseCPUList(s)
			if err == nil {
				o.Workers.set(set)
			}
			return err
		})
	fs.Func("nic", "comma-separated `nics` of the lines, in line order (overrides nic)", func(s string) error {
		var nics []string
		if !isNone(s) {
			for n := range strings.SplitSeq(s, ",") {
				nics = append(nics, strings.TrimSpace(n))
			}
		}
		o.NICs.set(nics)
		return nil
	})
}

func isNone(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || s == "none"
}

func parseIntList(s string) ([]int, error) {
	if isNone(s) {
		return nil, nil
	}
	var cpus []int
	for item := range strings.SplitSeq(s, ",") {
		c, err := parseNum(item, "cpu", MaxCPUs-1)
		if err != nil {
			return nil, err
		}
		cpus = append(cpus, c)
	}
	return cpus, nil
}

// Plan says which CPU each hot thread goes to: the profile with the
// command-line overrides applied. IO, Recv, Workers and NICs mean what
// Profile's fields do; Loop and NoWorkers describe the program the plan
// is for, so that its table and warnings name only the threads it has.
type Plan struct {
	IO      []int
	Recv    *int
	Workers CPUSet
	NICs    []string

	Loop      string // the receive or send loop's name in the table and warnings: "recv" when empty
	NoWorkers bool   // the program has no workers (a publisher): Workers is ignored
}

// NewPlan merges a profile with overrides; a set override wins.
func NewPlan(p Profile, o Overrides) Plan {
	plan := Plan{IO: p.IO, Recv: p.Recv, Workers: p.Workers, NICs: p.NICs}
	if o.IO.Set {
		plan.IO = o.IO.Value
	}
	if o.Recv.Set {
		plan.Recv = o.Recv.Value
	}
	if o.Workers.Set {
		plan.Workers = o.Workers.Value
	}
	if o.NICs.Set {
		plan.NICs = o.NICs.Value
	}
	return plan
}

// loop is the name of the receive or send loop's thread.
func (p Plan) loop() string {
	if p.Loop == "" {
		return "recv"
	}
	return p.Loop
}

// workers returns the workers' CPUs, none when the program has no workers.
func (p Plan) workers() []int {
	if p.NoWorkers {
		return nil
	}
	return p.Workers.CPUs()
}

// Assignment is one hot thread and its CPU.
type Assignment struct {
	Thread string // "ZMQbg/IO/<i>", "recv" or "worker/<i>"
	CPU    int
	Line   int // line whose traffic the thread carries; -1 for all lines
}

// Assignments lists the pinned threads: I/O threads in line order, then
// the receive (or send) loop, then the workers.
func (p Plan) Assignments() []Assignment {
	workers := p.workers()
	as := make([]Assignment, 0, len(p.IO)+1+len(workers))
	for i, c := range p.IO {
		as = append(as, Assignment{Thread: ioThreadPrefix + strconv.Itoa(i), CPU: c, Line: i})
	}
	if p.Recv != nil {
		as = append(as, Assignment{Thread: p.loop(), CPU: *p.Recv, Line: -1})
	}
	for i, c := range workers {
		as = append(as, Assignment{Thread: "worker/" + strconv.Itoa(i), CPU: c, Line: -1})
	}
	return as
}

// Validate reports the first pinned CPU that is out of range or, when
// topo is not nil, not online, naming the thread, so that a bad plan
// fails before anything starts.
func (p Plan) Validate(topo *Topology) error {
	for _, a := range p.Assignments() {
		if a.CPU < 0 || a.CPU >= MaxCPUs {
			return fmt.Errorf("%w: %d for %s (want 0-%d)", ErrCPUOutOfRange, a.CPU, a.Thread, MaxCPUs-1)
		}
		if topo != nil && !topo.Online.Contains(a.CPU) {
			return fmt.Errorf("%w: %d for %s (online: %s)", ErrCPUNotOnline, a.CPU, a.Thread, orDash(topo.Online))
		}
	}
	return nil
}

// Warnings describes placements that work but cost latency or couple the
// lines:
//
//   - the I/O threads of two lines on one CPU, or on SMT siblings of one
//     core: a burst on one line delays the other, so the lines stop being
//     independent;
//   - the receive loop on a CPU with workers: the loop must never wait,
//     and there it waits whenever a worker runs;
//   - a thread off the NUMA node of its line's NIC (checked only for NICs
//     with a device); the loop and the workers serve every line, so they
//     are checked against all lines' NICs.
//
// A loop sharing its CPU with the I/O threads is no mistake (an I/O
// thread wakes the loop, which costs least on one CPU), nor are workers
// beside the I/O threads: on a small host the lowest latency comes from
// the receive loop alone on one CPU and every other hot thread on another.
// nics[i] is the NIC of line i; nil means p.NICs.
func (p Plan) Warnings(topo *Topology, nics []string) []string {
	if nics == nil {
		nics = p.NICs
	}
	as := p.Assignments()
	io := as[:len(p.IO)]
	var warns []string

	// I/O threads of two or more lines on one CPU, in CPU order.
	byCPU := slices.Clone(io)
	slices.SortStableFunc(byCPU, func(a, b Assignment) int { return a.CPU - b.CPU })
	for i := 0; i < len(byCPU); {
		j := i + 1
		for j < len(byCPU) && byCPU[j].CPU == byCPU[i].CPU {
			j++
		}
		if j-i > 1 {
			warns = append(warns, fmt.Sprintf("%s share cpu %d, so lines %s are no longer independent (a burst on one line delays the rest); give each line's I/O thread its own core",
				threadNames(byCPU[i:j]), byCPU[i].CPU, lineNames(byCPU[i:j])))
		}
		i = j
	}

	// The receive loop beside workers.
	if p.Recv != nil {
		var with []Assignment
		for _, a := range as[len(p.IO):] {
			if a.CPU == *p.Recv && a.Thread != p.loop() {
				with = append(with, a)
			}
		}
		if len(with) > 0 {
			warns = append(warns, fmt.Sprintf("%s shares cpu %d with %s: the receive loop waits whenever a worker runs there; keep the workers off its cpu",
				p.loop(), *p.Recv, threadNames(with)))
		}
	}
	if topo == nil {
		return warns
	}

	// I/O threads of two lines on SMT siblings of one core.
	for i, a := range io {
		ca, ok := topo.CPU(a.CPU)
		if !ok {
			continue
		}
		for _, b := range io[i+1:] {
			if b.CPU != a.CPU && ca.Siblings.Contains(b.CPU) {
				warns = append(warns, fmt.Sprintf("%s on cpu %d and %s on cpu %d are SMT siblings of one core: lines %s and %s compete for it; give each line's I/O thread its own core",
					a.Thread, a.CPU, b.Thread, b.CPU, lineName(a.Line), lineName(b.Line)))
			}
		}
	}

	// NUMA node of each line's NIC; -1 where unknown.
	lineNode := make([]int, len(nics))
	var nodes []int
	for i, name := range nics {
		lineNode[i] = -1
		if name == "" {
			continue
		}
		nic, ok := topo.NIC(name)
		if !ok {
			warns = append(warns, fmt.Sprintf("nic %s of line %s not found; its NUMA placement is not checked", name, lineName(i)))
			continue
		}
		if nic.Device && nic.Node >= 0 {
			lineNode[i] = nic.Node
			if !slices.Contains(nodes, nic.Node) {
				nodes = append(nodes, nic.Node)
			}
		}
	}
	slices.Sort(nodes)
	for _, a := range as {
		c, ok := topo.CPU(a.CPU)
		if !ok || c.Node < 0 {
			continue
		}
		switch {
		case a.Line >= 0:
			if a.Line < len(lineNode) && lineNode[a.Line] >= 0 && c.Node != lineNode[a.Line] {
				warns = append(warns, fmt.Sprintf("%s on cpu %d (node %d) is off the NUMA node of %s (node %d, line %s)",
					a.Thread, a.CPU, c.Node, nics[a.Line], lineNode[a.Line], lineName(a.Line)))
			}
		case len(nodes) > 0 && !slices.Contains(nodes, c.Node):
			warns = append(warns, fmt.Sprintf("%s on cpu %d (node %d) is off the NUMA node of every line's NIC (node %s)",
				a.Thread, a.CPU, c.Node, joinInts(nodes)))
		}
	}
	return warns
}

// lineName names line i as bus.LineName does (A, B, C...); bus sits
// above this package, which does not import it.
func lineName(i int) string {
	if i >= 0 && i < 26 {
		return string(rune('A' + i))
	}
	return "L" + strconv.Itoa(i)
}

// lineNames returns the lines of as: "A and B", "A, B and C".
func lineNames(as []Assignment) string {
	names := make([]string, len(as))
	for i, a := range as {
		names[i] = lineName(a.Line)
	}
	return joinAnd(names)
}

// threadNames returns "a", "a and b" or "a, b and c".
func threadNames(as []Assignment) string {
	names := make([]string, len(as))
	for i, a := range as {
		names[i] = a.Thread
	}
	return joinAnd(names)
}

// joinAnd returns "a", "a and b" or "a, b and c".
func joinAnd(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func joinInts(ns []int) string {
	var b []byte
	for i, n := range ns {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return string(b)
}

// String returns the table Format writes.
func (p Plan) String() string {
	var b strings.Builder
	p.Format(&b)
	return b.String()
}

// Format writes one row per thread the program has: its CPU and, for I/O
// threads, the line and NIC it serves. A plan without lines (neither IO
// nor NICs) has no I/O thread rows.
func (p Plan) Format(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "THREAD\tCPU\tLINE\tNIC")
	for i := range max(len(p.IO), len(p.NICs)) {
		cpu, nic := "unpinned", "-"
		if i < len(p.IO) {
			cpu = strconv.Itoa(p.IO[i])
		}
		if i < len(p.NICs) && p.NICs[i] != "" {
			nic = p.NICs[i]
		}
		fmt.Fprintf(tw, "%s%d\t%s\t%s\t%s\n", ioThreadPrefix, i, cpu, lineName(i), nic)
	}
	if p.Recv != nil {
		fmt.Fprintf(tw, "%s\t%d\tall\t-\n", p.loop(), *p.Recv)
	} else {
		fmt.Fprintf(tw, "%s\tunpinned\tall\t-\n", p.loop())
	}
	if !p.NoWorkers {
		if p.Workers.Len() == 0 {
			fmt.Fprintf(tw, "worker/*\tunpinned\tall\t-\n")
		}
		for i, c := range p.Workers.CPUs() {
			fmt.Fprintf(tw, "worker/%d\t%d\tall\t-\n", i, c)
		}
	}
	return tw.Flush()
}
