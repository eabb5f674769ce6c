package cli

import (
	"flag"
	"fmt"
	"io"
	"runtime"

	"github.com/feedbus/feedbus/affinity"
	"github.com/feedbus/feedbus/bus"
)

// Affinity holds the CPU placement flags both binaries take: a host
// profile and the flags that override it.
type Affinity struct {
	profile  string
	showPlan bool
	over     affinity.Overrides
}

// Register adds --profile, --plan, --pin-io, --pin-recv, --pin-workers and --nic to fs.
func (a *Affinity) Register(fs *flag.FlagSet) {
	fs.StringVar(&a.profile, "profile", "", "host profile (TOML) with pin_io, pin_recv, pin_workers and nic; flags override it")
	fs.BoolVar(&a.showPlan, "plan", false, "print the host's topology and the CPU plan, with warnings, and exit")
	a.over.RegisterFlags(fs)
}

// Placement is a checked CPU plan for this host.
type Placement struct {
	Plan     affinity.Plan
	Topology *affinity.Topology
	Warnings []string
}

// Resolve loads the profile, applies the flags and checks the plan against
// this host before anything starts: every CPU must exist and be online, and
// --pin-io must give one CPU per line. nics are the lines' interfaces, for
// the NUMA warnings, used where the profile names none.
func (a *Affinity) Resolve(lines []bus.Endpoint) (*Placement, error) {
	var prof affinity.Profile
	if a.profile != "" {
		p, err := affinity.LoadProfile(a.profile)
		if err != nil {
			return nil, UsageError{err}
		}
		prof = p
	}
	plan := affinity.NewPlan(prof, a.over)
	if len(plan.IO) > 0 && len(plan.IO) != len(lines) {
		return nil, Usagef("--pin-io (or pin_io) has %d CPUs for %d lines: give one per line, in line order", len(plan.IO), len(lines))
	}
	if len(plan.NICs) == 0 {
		for _, e := range lines {
			plan.NICs = append(plan.NICs, e.Device)
		}
	}
	topo, err := affinity.ReadTopology()
	if err != nil {
		if len(plan.Assignments()) > 0 {
			return nil, err
		}
		return &Placement{Plan: plan}, nil
	}
	if err := plan.Validate(topo); err != nil {
		return nil, UsageError{err}
	}
	return &Placement{Plan: plan, Topology: topo, Warnings: plan.Warnings(topo, nil)}, nil
}

// Prepare parses the line endpoints and resolves the CPU plan before any
// socket opens. With --plan it prints the plan to stdout and reports
// shown, and the caller stops there; otherwise it passes the plan's
// warnings to logf.
func (a *Affinity) Prepare(endpoints []string, stdout io.Writer, logf func(string, ...any)) (p *Placement, shown bool, err error) {
	lines, err := bus.ParseLines(endpoints)
	if err != nil {
		return nil, false, err
	}
	if p, err = a.Resolve(lines); err != nil {
		return nil, false, err
	}
	if a.showPlan {
		return p, true, p.Print(stdout)
	}
	for _, w := range p.Warnings {
		logf("%s", w)
	}
	return p, false, nil
}

// Print writes the topology, the plan and its warnings.
func (p *Placement) Print(w io.Writer) error {
	if p.Topology != nil {
		fmt.Fprintln(w, "Host topology:")
		if err := p.Topology.Format(w); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "CPU plan:")
	if err := p.Plan.Format(w); err != nil {
		return err
	}
	if len(p.Warnings) == 0 {
		fmt.Fprintln(w, "\nNo warnings.")
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	return nil
}

// PinIO pins each line's libzmq I/O thread to its CPU.
func (p *Placement) PinIO() error {
	if len(p.Plan.IO) == 0 {
		return nil
	}
	return affinity.PinIOThreads(p.Plan.IO)
}

// LockLoop locks the calling goroutine, the receive or send loop, to its OS
// thread, names the thread (name shows in top -H and perf) and pins it
// when the plan says so. It returns the thread id and a function that
// undoes it all, to be called from the same goroutine.
func (p *Placement) LockLoop(name string) (tid int, undo func(), err error) {
	runtime.LockOSThread()
	undo = runtime.UnlockOSThread
	if p.Plan.Recv != nil {
		set, err := affinity.NewCPUSet(*p.Plan.Recv)
		if err != nil {
			undo()
			return 0, nil, err
		}
		restore, err := affinity.PinCurrentThread(set)
		if err != nil {
			undo()
			return 0, nil, err
		}
		undo = func() { restore(); runtime.UnlockOSThread() }
	}
	// A name is a convenience; failing to set one is not worth stopping for.
	_ = affinity.NameCurrentThread(name)
	return affinity.ThreadID(), undo, nil
}

// Start pins the lines' I/O threads and locks, names and pins the calling
// goroutine as the hot loop, saying on w which thread it is (tests and
// perf sessions look it up). Call undo from the same goroutine when the
// loop is done.
func (p *Placement) Start(prog, loop string, w io.Writer) (undo func(), err error) {
	if err := p.PinIO(); err != nil {
		return nil, err
	}
	tid, undo, err := p.LockLoop(prog + "/" + loop)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "%s: %s loop on thread %d\n", prog, loop, tid)
	return undo, nil
}
