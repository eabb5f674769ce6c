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

	t.Run("shared cpu", func(t *testing.T) {
		workers, _ := affinity.ParseCPUSet("1,5")
		plan := affinity.Plan{IO: []int{1, 5}, Recv: intp(1), Workers: workers}
		warns := plan.Warnings(topo, nil)
		has(t, warns, "ZMQbg/IO/0, recv and worker/0 share cpu 1")
		has(t, warns, "ZMQbg/IO/1 and worker/1 share cpu 5")
	})
	t.Run("smt siblings", func(t *testing.T) {
		plan := affinity.Plan{IO: []int{0}, Recv: intp(2)}
		warns := plan.Warnings(topo, nil)
		has(t, warns, "cpu 0 (ZMQbg/IO/0) and cpu 2 (recv) are SMT siblings")
		if len(warns) != 1 {
			t.Errorf("want only the SMT warning, got %q", warns)
		}
	})
	t.Run("numa", func(t *testing.T) {
		// eth0 is on node 1 (CPUs 4-7), eth1 on node 0 (CPUs 0-3).
		plan := affinity.Plan{IO: []int{0, 1}, Recv: intp(5), NICs: []string{"eth0", "eth1"}}
		warns := plan.Warnings(topo, nil)
		has(t, warns, "ZMQbg/IO/0 on cpu 0 (node 0) is off the NUMA node of eth0 (node 1, line 0)")
		if len(warns) != 1 {
			t.Errorf("IO/1 is local to eth1 and recv to eth0; want one warning, got %q", warns)
		}
		// The nics argument replaces the plan's: two lines on eth0 put
		// recv (node 1) right and IO/1 (node 0) wrong.
		warns = plan.Warnings(topo, []string{"eth0", "eth0"})
		has(t, warns, "ZMQbg/IO/1 on cpu 1 (node 0) is off the NUMA node of eth0")
		plan = affinity.Plan{Recv: intp(1), NICs: []string{"eth0"}}
		has(t, plan.Warnings(topo, nil), "recv on cpu 1 (node 0) is off the NUMA node of every line's NIC (node 1)")
	})
	t.Run("virtual and missing nic", func(t *testing.T) {
		plan := affinity.Plan{IO: []int{4, 0}, NICs: []string{"veth0", "eth9"}}
		warns := plan.Warnings(topo, nil)
		has(t, warns, "nic eth9 of line 1 not found")
		if len(warns) != 1 {
			t.Errorf("a virtual NIC has no NUMA node to be off; want one warning, got %q", warns)
		}
	})
	t.Run("siblings and clean", func(t *testing.T) {
		workers, _ := affinity.ParseCPUSet("5,7")
		plan := affinity.Plan{IO: []int{4}, Recv: intp(6), Workers: workers, NICs: []string{"eth0"}}
		if warns := plan.Warnings(topo, nil); len(warns) != 2 {
			// 4/6 and 5/7 are sibling pairs.
			t.Errorf("want two SMT warnings, got %q", warns)
		}
		plan = affinity.Plan{IO: []int{4}, Recv: intp(5), NICs: []string{"eth0"}}
		if warns := plan.Warnings(topo, nil); len(warns) != 0 {
			t.Errorf("want no warnings, got %q", warns)
		}
	})
}

func TestPlanFormat(t *testing.T) {
	p, err := affinity.LoadProfile("testdata/example.toml")
	if err != nil {
		t.Fatal(err)
	}
	out := affinity.NewPlan(p, affinity.Overrides{}).String()
	for _, want := range []string{"ZMQbg/IO/0  2", "ZMQbg/IO/1  3", "recv        4", "worker/2    7", "eth1"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("\n%s", out)
	out = affinity.Plan{}.String()
	if !strings.Contains(out, "recv        unpinned") || !strings.Contains(out, "worker/*    unpinned") {
		t.Errorf("empty plan output:\n%s", out)
	}
	t.Logf("\n%s", out)
}
