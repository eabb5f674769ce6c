package cli

import (
	"flag"
	"fmt"
	"io"
	"runtime"

	"github.com/feedbus/feedbus/affinity"
	"github.com/feedbus/feedbus/bus"
)

// Role is the program an Affinity serves, which decides the hot threads
// it has and so the flags it offers and the plan it prints.
type Role int

const (
	// RoleSubscriber (feedsub) has the lines' I/O threads, the receive
	// loop and workers.
	RoleSubscriber Role = iota
	// RolePublisher (feedpub) has the lines' I/O threads and the send loop.
	RolePublisher
)

// Affinity holds the CPU placement flags both binaries take: a host
// profile and the flags that override it.
type Affinity struct {
	Role Role // set before Register

	profile  string
	showPlan bool
	over     affinity.Overrides
}

// Register adds --profile, --plan, --pin-io, --pin-recv, --nic and, for a
// subscriber, --pin-workers to fs.
func (a *Affinity) Register(fs *flag.FlagSet) {
	profile := "host profile (TOML) with pin_io, pin_recv, pin_workers and nic; flags override it"
	if a.Role == RolePublisher {
		profile = "host profile (TOML) with pin_io, pin_recv and nic (pin_workers is feedsub's and ignored here); flags override it"
	}
	fs.StringVar(&a.profile, "profile", "", profile)
	fs.BoolVar(&a.showPlan, "plan", false, "print the host's topology and the CPU plan, with warnings, and exit (--line may be left out)")
	all := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	a.over.RegisterFlags(all)
	all.VisitAll(func(f *flag.Flag) {
		if f.Name == "pin-workers" && a.Role == RolePublisher {
			return // a publisher has no workers
		}
		fs.Var(f.Value, f.Name, f.Usage)
	})
}

// PlanOnly reports whether --plan was given: the program prints the plan
// and exits, so it needs no --line (Prepare then shows the threads that do
// not belong to a line).
func (a *Affinity) PlanOnly() bool { return a.showPlan }

// Placement is a checked CPU plan for this host.
type Placement struct {
	Plan     affinity.Plan
	Topology *affinity.Topology
	Warnings []string
}

// Resolve loads the profile, applies the flags and checks the plan against
// this host before anything starts: every CPU must exist and be online, and
// --pin-io must give one CPU per line when lines are given. The lines'
// interfaces are the NICs for the NUMA warnings where the profile names
// none.
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
	if a.Role == RolePublisher {
		plan.Loop, plan.NoWorkers, plan.Workers = "send", true, affinity.CPUSet{}
	}
	if len(lines) > 0 && len(plan.IO) > 0 && len(plan.IO) != len(lines) {
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
// shown, and the caller stops there; endpoints may then be empty, and the
// plan shows the host and the threads that serve no one line. Otherwise
// it passes the plan's warnings to logf.
func (a *Affinity) Prepare(endpoints []string, stdout io.Writer, logf func(string, ...any)) (p *Placement, shown bool, err error) {
	var lines []bus.Endpoint
	if len(endpoints) > 0 || !a.showPlan {
		if lines, err = bus.ParseLines(endpoints); err != nil {
			return nil, false, err
		}
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
	if len(p.Plan.IO) == 0 && len(p.Plan.NICs) == 0 {
		fmt.Fprintln(w, "(no --line given: each line's I/O thread, ZMQbg/IO/<n>, is left out)")
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
