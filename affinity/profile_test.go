package affinity_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/feedbus/feedbus/affinity"
)

func writeProfile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "host.toml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func fakeTopology(t *testing.T) *affinity.Topology {
	t.Helper()
	topo, err := affinity.ReadTopologyFrom(fakeSys(t))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func intp(n int) *int { return &n }

func TestLoadProfileExample(t *testing.T) {
	p, err := affinity.LoadProfile("testdata/example.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.IO, []int{2, 3}) || p.Recv == nil || *p.Recv != 4 ||
		p.Workers.String() != "5-7" || !slices.Equal(p.NICs, []string{"eth0", "eth1"}) {
		t.Errorf("LoadProfile = %+v", p)
	}
	plan := affinity.NewPlan(p, affinity.Overrides{})
	if err := plan.Validate(fakeTopology(t)); err != nil {
		t.Errorf("example plan invalid on the fake 8-CPU host: %v", err)
	}
}

func TestLoadProfileEmpty(t *testing.T) {
	p, err := affinity.LoadProfile(writeProfile(t, "# nothing pinned\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.IO != nil || p.Recv != nil || p.Workers.Len() != 0 || p.NICs != nil {
		t.Errorf("empty profile = %+v", p)
	}
}

func TestLoadProfileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          error
		msg           []string
	}{
		{"unknown key", "pin_io = [0]\npin_wrkers = \"1\"\n", affinity.ErrUnknownKey,
			[]string{`"pin_wrkers"`, "host.toml"}},
		{"unknown table", "[pin]\nio = 1\n", affinity.ErrUnknownKey, []string{`"pin"`}},
		{"negative io", "pin_io = [0, -1]\n", affinity.ErrCPUOutOfRange, []string{"pin_io[1] = -1"}},
		{"huge recv", "pin_recv = 5000\n", affinity.ErrCPUOutOfRange, []string{"pin_recv = 5000"}},
		{"reversed workers", `pin_workers = "5-2"`, affinity.ErrInvalidCPUList,
			[]string{"pin_workers", "reversed range 5-2"}},
		{"garbage workers", `pin_workers = "2-x"`, affinity.ErrInvalidCPUList, []string{`bad cpu number "x"`}},
		{"workers as list", "pin_workers = [2, 3]\n", affinity.ErrInvalidProfile,
			[]string{"cpu-list string", "not array"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := affinity.LoadProfile(writeProfile(t, tc.content))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("err %q lacks %q", err, m)
				}
			}
		})
	}

	if _, err := affinity.LoadProfile(writeProfile(t, "pin_recv = \"two\"\n")); err == nil ||
		!strings.Contains(err.Error(), "pin_recv") {
		t.Errorf("wrong type for pin_recv: %v", err)
	}
	if _, err := affinity.LoadProfile(filepath.Join(t.TempDir(), "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestPlanValidate(t *testing.T) {
	topo := fakeTopology(t)
	p, err := affinity.LoadProfile(writeProfile(t, "pin_io = [0, 9]\npin_recv = 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	plan := affinity.NewPlan(p, affinity.Overrides{})
	err = plan.Validate(topo)
	if !errors.Is(err, affinity.ErrCPUNotOnline) || !strings.Contains(err.Error(), "9 for ZMQbg/IO/1") {
		t.Errorf("Validate = %v, want ErrCPUNotOnline naming cpu 9 and ZMQbg/IO/1", err)
	}
	if err := plan.Validate(nil); err != nil {
		t.Errorf("Validate(nil) checks only ranges, got %v", err)
	}

	workers, _ := affinity.ParseCPUSet("6-8")
	plan = affinity.NewPlan(affinity.Profile{Workers: workers}, affinity.Overrides{})
	if err := plan.Validate(topo); !errors.Is(err, affinity.ErrCPUNotOnline) || !strings.Contains(err.Error(), "worker/2") {
		t.Errorf("Validate with worker on offline cpu 8 = %v", err)
	}
	plan = affinity.Plan{Recv: intp(-1)}
	if err := plan.Validate(topo); !errors.Is(err, affinity.ErrCPUOutOfRange) {
		t.Errorf("Validate with recv on cpu -1 = %v", err)
	}
}

func TestPlanFlagsOverrideProfile(t *testing.T) {
	p, err := affinity.LoadProfile("testdata/example.toml")
	if err != nil {
		t.Fatal(err)
	}
	var o affinity.Overrides
	fs := flag.NewFlagSet("feedsub", flag.ContinueOnError)
	o.RegisterFlags(fs)
	if err := fs.Parse([]string{"-pin-io=1, 0", "-pin-recv", "0", "-nic=eth1,eth0"}); err != nil {
		t.Fatal(err)
	}
	plan := affinity.NewPlan(p, o)
	if !slices.Equal(plan.IO, []int{1, 0}) || plan.Recv == nil || *plan.Recv != 0 ||
		!slices.Equal(plan.NICs, []string{"eth1", "eth0"}) {
		t.Errorf("flags did not win: %+v", plan)
	}
	if plan.Workers != p.Workers {
		t.Errorf("workers %s, want the profile's %s since no flag was given", plan.Workers, p.Workers)
	}

	// "none" unpins what the profile pins; that is not the same as unset.
	o = affinity.Overrides{}
	fs = flag.NewFlagSet("feedsub", flag.ContinueOnError)
	o.RegisterFlags(fs)
	if err := fs.Parse([]string{"-pin-recv=none", "-pin-workers=none"}); err != nil {
		t.Fatal(err)
	}
	plan = affinity.NewPlan(p, o)
	if plan.Recv != nil || plan.Workers.Len() != 0 || !slices.Equal(plan.IO, p.IO) {
		t.Errorf("after -pin-recv=none -pin-workers=none: %+v", plan)
	}

	fs = flag.NewFlagSet("feedsub", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	o.RegisterFlags(fs)
	for _, bad := range [][]string{{"-pin-io=0,x"}, {"-pin-recv=-2"}, {"-pin-workers=3-1"}} {
		if err := fs.Parse(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestPlanWarnings(t *testing.T) {
	topo := fakeTopology(t)
	has := func(t *testing.T, warns []string, want string) {
		t.Helper()
		for _, w := range warns {
			if strings.Contains(w, want) {
				return
			}
		}
		t.Errorf("no warning containing %q in %q", want, warns)
	}

	t.Run("lines share a cpu", func(t *testing.T) {
		plan := affinity.Plan{IO: []int{1, 5, 1}, Recv: intp(1), Workers: mustSet(t, "5")}
		warns := plan.Warnings(topo, nil)
		has(t, warns, "ZMQbg/IO/0 and ZMQbg/IO/2 share cpu 1, so lines A and C are no longer independent")
		if len(warns) != 1 {
			// recv beside I/O threads and a worker beside an I/O thread
			// are placements the README recommends.
			t.Errorf("want only the shared-cpu warning, got %q", warns)
		}
	})
	t.Run("receive loop with workers", func(t *testing.T) {
		plan := affinity.Plan{IO: []int{0}, Recv: intp(1), Workers: mustSet(t, "1,4-5")}
		warns := plan.Warnings(topo, nil)
		has(t, warns, "recv shares cpu 1 with worker/0: the receive loop waits whenever a worker runs there")
		if len(warns) != 1 {
			t.Errorf("want one warning, got %q", warns)
		}
	})
	t.Run("smt siblings", func(t *testing.T) {
		plan := affinity.Plan{IO: []int{0, 2}, Recv: intp(3), Workers: mustSet(t, "1")}
		warns := plan.Warnings(topo, nil)
		has(t, warns, "ZMQbg/IO/0 on cpu 0 and ZMQbg/IO/1 on cpu 2 are SMT siblings of one core: lines A and B compete for it")
		if len(warns) != 1 {
			// recv (3) and worker/0 (1) are siblings too, which is no mistake.
			t.Errorf("want only the SMT warning for the lines, got %q", warns)
		}
	})
	t.Run("numa", func(t *testing.T) {
		// eth0 is on node 1 (CPUs 4-7), eth1 on node 0 (CPUs 0-3).
		plan := affinity.Plan{IO: []int{0, 1}, Recv: intp(5), NICs: []string{"eth0", "eth1"}}
		warns := plan.Warnings(topo, nil)
		has(t, warns, "ZMQbg/IO/0 on cpu 0 (node 0) is off the NUMA node of eth0 (node 1, line A)")
		if len(warns) != 1 {
			t.Errorf("IO/1 is local to eth1 and recv to eth0; want one warning, got %q", warns)
		}
		// The nics argument replaces the plan's: two lines on eth0 put
		// recv (node 1) right and IO/1 (node 0) wrong.
		warns = plan.Warnings(topo, []string{"eth0", "eth0"})
		has(t, warns, "ZMQbg/IO/1 on cpu 1 (node 0) is off the NUMA node of eth0 (node 1, line B)")
		plan = affinity.Plan{Recv: intp(1), NICs: []string{"eth0"}}
		has(t, plan.Warnings(topo, nil), "recv on cpu 1 (node 0) is off the NUMA node of every line's NIC (node 1)")
		plan = affinity.Plan{Recv: intp(1), NICs: []string{"eth0"}, Loop: "send"}
		has(t, plan.Warnings(topo, nil), "send on cpu 1 (node 0) is off the NUMA node")
	})
	t.Run("virtual and missing nic", func(t *testing.T) {
		plan := affinity.Plan{IO: []int{4, 0}, NICs: []string{"veth0", "eth9"}}
		warns := plan.Warnings(topo, nil)
		has(t, warns, "nic eth9 of line B not found")
		if len(warns) != 1 {
			t.Errorf("a virtual NIC has no NUMA node to be off; want one warning, got %q", warns)
		}
	})
	t.Run("readme placements", func(t *testing.T) {
		// The README's latency placement on a small host: the receive
		// loop alone on the last CPU, every other hot thread of both
		// programs on CPU 0.
		for name, plan := range map[string]affinity.Plan{
			"feedsub":                {IO: []int{0}, Recv: intp(7), Workers: mustSet(t, "0")},
			"feedsub with two lines": {IO: []int{4, 5}, Recv: intp(7), Workers: mustSet(t, "4")},
			"feedpub":                {IO: []int{0}, Recv: intp(0), Loop: "send", NoWorkers: true},
			"feedpub with workers":   {IO: []int{0}, Recv: intp(0), Workers: mustSet(t, "0"), Loop: "send", NoWorkers: true},
			"one core each":          {IO: []int{4}, Recv: intp(5), Workers: mustSet(t, "6-7"), NICs: []string{"eth0"}},
		} {
			if warns := plan.Warnings(topo, nil); len(warns) != 0 {
				t.Errorf("%s: want no warnings, got %q", name, warns)
			}
		}
	})
}

func TestPlanFormat(t *testing.T) {
	p, err := affinity.LoadProfile("testdata/example.toml")
	if err != nil {
		t.Fatal(err)
	}
	// rows turns the table into its rows' fields, joined by one space.
	rows := func(plan affinity.Plan) []string {
		var rows []string
		for line := range strings.Lines(plan.String()) {
			rows = append(rows, strings.Join(strings.Fields(line), " "))
		}
		t.Logf("\n%s", plan)
		return rows
	}
	for _, tc := range []struct {
		name string
		plan affinity.Plan
		want []string
	}{
		{"example profile", affinity.NewPlan(p, affinity.Overrides{}), []string{
			"THREAD CPU LINE NIC",
			"ZMQbg/IO/0 2 A eth0",
			"ZMQbg/IO/1 3 B eth1",
			"recv 4 all -",
			"worker/0 5 all -",
			"worker/1 6 all -",
			"worker/2 7 all -",
		}},
		{"empty", affinity.Plan{}, []string{
			"THREAD CPU LINE NIC",
			"recv unpinned all -",
			"worker/* unpinned all -",
		}},
		{"publisher", affinity.Plan{IO: []int{0, 1}, Recv: intp(0), Workers: mustSet(t, "1"), Loop: "send", NoWorkers: true}, []string{
			"THREAD CPU LINE NIC",
			"ZMQbg/IO/0 0 A -",
			"ZMQbg/IO/1 1 B -",
			"send 0 all -",
		}},
		{"publisher unpinned", affinity.Plan{NICs: []string{"eth1"}, Loop: "send", NoWorkers: true}, []string{
			"THREAD CPU LINE NIC",
			"ZMQbg/IO/0 unpinned A eth1",
			"send unpinned all -",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rows(tc.plan); !slices.Equal(got, tc.want) {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestPlanAssignmentsRole(t *testing.T) {
	plan := affinity.Plan{IO: []int{0}, Recv: intp(1), Workers: mustSet(t, "2-3"), Loop: "send", NoWorkers: true}
	var got []string
	for _, a := range plan.Assignments() {
		got = append(got, a.Thread)
	}
	if want := []string{"ZMQbg/IO/0", "send"}; !slices.Equal(got, want) {
		t.Errorf("Assignments threads = %q, want %q", got, want)
	}
	// A publisher does not validate the workers a shared profile pins.
	plan.Workers = mustSet(t, "1000")
	if err := plan.Validate(fakeTopology(t)); err != nil {
		t.Errorf("Validate of a plan without workers checked them: %v", err)
	}
	plan.Recv = intp(9)
	if err := plan.Validate(fakeTopology(t)); err == nil || !strings.Contains(err.Error(), "for send") {
		t.Errorf("Validate = %v, want an error naming the send loop", err)
	}
}
