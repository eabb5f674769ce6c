package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/feedbus/feedbus/affinity"
	"github.com/feedbus/feedbus/bus"
)

// newAffinity registers an Affinity for role and parses args into it.
func newAffinity(t *testing.T, role Role, args ...string) *Affinity {
	t.Helper()
	a := &Affinity{Role: role}
	fs := flag.NewFlagSet("feedtest", flag.ContinueOnError)
	a.Register(fs)
	if err := Parse(fs, args, new(strings.Builder)); err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	return a
}

func TestAffinityRegisterRole(t *testing.T) {
	names := func(role Role) []string {
		fs := flag.NewFlagSet("feedtest", flag.ContinueOnError)
		(&Affinity{Role: role}).Register(fs)
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		return names
	}
	if got, want := names(RoleSubscriber), []string{"nic", "pin-io", "pin-recv", "pin-workers", "plan", "profile"}; !slices.Equal(got, want) {
		t.Errorf("subscriber flags %q, want %q", got, want)
	}
	if got, want := names(RolePublisher), []string{"nic", "pin-io", "pin-recv", "plan", "profile"}; !slices.Equal(got, want) {
		t.Errorf("publisher flags %q, want %q", got, want)
	}

	fs := flag.NewFlagSet("feedpub", flag.ContinueOnError)
	(&Affinity{Role: RolePublisher}).Register(fs)
	err := Parse(fs, []string{"--pin-workers", "1"}, new(strings.Builder))
	if err == nil || err.Error() != "flag provided but not defined: -pin-workers (see feedpub -h)" {
		t.Errorf("feedpub --pin-workers: %v", err)
	}
}

// lastCPU returns the highest online CPU, skipping the test on hosts
// where the plan cannot put the receive loop alone.
func lastCPU(t *testing.T) int {
	t.Helper()
	topo, err := affinity.ReadTopology()
	if err != nil {
		t.Skipf("no topology here: %v", err)
	}
	cpus := topo.Online.CPUs()
	if len(cpus) < 2 || cpus[0] != 0 {
		t.Skipf("need CPU 0 and another online, have %s", topo.Online)
	}
	return cpus[len(cpus)-1]
}

func TestPreparePlan(t *testing.T) {
	last := strconv.Itoa(lastCPU(t))
	lineA, lineB := "tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"
	tests := []struct {
		name      string
		role      Role
		args      []string
		endpoints []string
		want      []string // rows of the plan (fields joined by a space) or lines of the output
		not       []string // nowhere in the output
	}{
		{
			name: "feedpub, README latency placement", role: RolePublisher,
			args: []string{"--pin-io", "0", "--pin-recv", "0"}, endpoints: []string{lineA},
			want: []string{"ZMQbg/IO/0 0 A -", "send 0 all -", "No warnings."},
			not:  []string{"recv", "worker", "warning:"},
		},
		{
			name: "feedpub, two lines unpinned", role: RolePublisher,
			endpoints: []string{lineA, lineB},
			want:      []string{"ZMQbg/IO/0 unpinned A -", "ZMQbg/IO/1 unpinned B -", "send unpinned all -"},
			not:       []string{"recv", "worker"},
		},
		{
			name: "feedsub, README latency placement", role: RoleSubscriber,
			args: []string{"--pin-recv", last, "--pin-io", "0", "--pin-workers", "0"}, endpoints: []string{lineA},
			want: []string{"ZMQbg/IO/0 0 A -", "recv " + last + " all -", "worker/0 0 all -", "No warnings."},
			not:  []string{"send", "warning:"},
		},
		{
			name: "feedsub, lines on one cpu", role: RoleSubscriber,
			args: []string{"--pin-io", "0,0"}, endpoints: []string{lineA, lineB},
			want: []string{"ZMQbg/IO/1 0 B -", "warning: ZMQbg/IO/0 and ZMQbg/IO/1 share cpu 0, so lines A and B are no longer independent (a burst on one line delays the rest); give each line's I/O thread its own core"},
		},
		{
			name: "feedsub, receive loop with a worker", role: RoleSubscriber,
			args: []string{"--pin-recv", last, "--pin-workers", last}, endpoints: []string{lineA},
			want: []string{"warning: recv shares cpu " + last + " with worker/0: the receive loop waits whenever a worker runs there; keep the workers off its cpu"},
		},
		{
			name: "feedsub, no lines", role: RoleSubscriber,
			args: []string{"--pin-recv", last},
			want: []string{"Host topology:", "recv " + last + " all -", "worker/* unpinned all -", "(no --line given: each line's I/O thread, ZMQbg/IO/<n>, is left out)"},
			not:  []string{"ZMQbg/IO/0"},
		},
		{
			name: "feedpub, no lines", role: RolePublisher,
			want: []string{"Host topology:", "send unpinned all -", "(no --line given: each line's I/O thread, ZMQbg/IO/<n>, is left out)"},
			not:  []string{"ZMQbg/IO/0", "worker"},
		},
		{
			name: "feedsub, no lines but --pin-io", role: RoleSubscriber,
			args: []string{"--pin-io", "0," + last},
			want: []string{"ZMQbg/IO/0 0 A -", "ZMQbg/IO/1 " + last + " B -"},
			not:  []string{"no --line given"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAffinity(t, tt.role, append(tt.args, "--plan")...)
			if !a.PlanOnly() {
				t.Fatal("PlanOnly() = false after --plan")
			}
			var out strings.Builder
			p, shown, err := a.Prepare(tt.endpoints, &out, func(f string, args ...any) { t.Errorf("logf: "+f, args...) })
			if err != nil || !shown || p == nil {
				t.Fatalf("Prepare = %v, %v, %v", p, shown, err)
			}
			var lines []string
			for line := range strings.Lines(out.String()) {
				lines = append(lines, strings.Join(strings.Fields(line), " "))
			}
			for _, w := range tt.want {
				if !slices.Contains(lines, w) {
					t.Errorf("output lacks the line %q", w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out.String(), n) {
					t.Errorf("output has %q", n)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out.String())
			}
		})
	}
}

func TestPrepareRun(t *testing.T) {
	last := strconv.Itoa(lastCPU(t))

	// Without --plan the lines are required, and warnings go to logf.
	a := newAffinity(t, RoleSubscriber, "--pin-recv", last, "--pin-workers", last)
	if a.PlanOnly() {
		t.Error("PlanOnly() = true without --plan")
	}
	if _, _, err := a.Prepare(nil, new(strings.Builder), t.Logf); !errors.Is(err, bus.ErrEndpoint) || ExitCode(err) != ExitUsage {
		t.Errorf("Prepare without lines = %v, want an error wrapping bus.ErrEndpoint", err)
	}
	var warns []string
	logf := func(f string, args ...any) { warns = append(warns, fmt.Sprintf(f, args...)) }
	var out strings.Builder
	p, shown, err := a.Prepare([]string{"tcp://localhost:5555"}, &out, logf)
	if err != nil || shown || out.Len() != 0 {
		t.Fatalf("Prepare = %v, %v, %v; printed %q", p, shown, err, out.String())
	}
	if len(warns) != 1 || !slices.Equal(warns, p.Warnings) || !strings.Contains(warns[0], "recv shares cpu "+last+" with worker/0") {
		t.Errorf("logged %q, plan warns %q", warns, p.Warnings)
	}

	// --pin-io must match the lines.
	a = newAffinity(t, RolePublisher, "--pin-io", "0,0")
	if _, _, err := a.Prepare([]string{"tcp://127.0.0.1:5555"}, new(strings.Builder), t.Logf); err == nil ||
		err.Error() != "--pin-io (or pin_io) has 2 CPUs for 1 lines: give one per line, in line order" || ExitCode(err) != ExitUsage {
		t.Errorf("Prepare with --pin-io for two lines and one line: %v", err)
	}
}

func TestPreparePublisherProfile(t *testing.T) {
	// One host profile for both programs: feedpub ignores its workers.
	profile := filepath.Join(t.TempDir(), "host.toml")
	if err := os.WriteFile(profile, []byte("pin_recv = 0\npin_workers = \"0\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := newAffinity(t, RolePublisher, "--profile", profile)
	p, _, err := a.Prepare([]string{"tcp://127.0.0.1:5555"}, new(strings.Builder), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if p.Plan.Workers.Len() != 0 || !p.Plan.NoWorkers || p.Plan.Loop != "send" || p.Plan.Recv == nil || *p.Plan.Recv != 0 {
		t.Errorf("publisher plan %+v", p.Plan)
	}
	a = newAffinity(t, RoleSubscriber, "--profile", profile)
	if p, _, err = a.Prepare([]string{"tcp://127.0.0.1:5555"}, new(strings.Builder), func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	if p.Plan.Workers.String() != "0" || p.Plan.NoWorkers {
		t.Errorf("subscriber plan %+v", p.Plan)
	}
}
