package affinity_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/feedbus/feedbus/affinity"
)

func TestParseCPUSet(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		str  string
	}{
		{"", nil, ""},
		{"  \n", nil, ""},
		{"0", []int{0}, "0"},
		{"0-3,8", []int{0, 1, 2, 3, 8}, "0-3,8"},
		{"0-3,8\n", []int{0, 1, 2, 3, 8}, "0-3,8"},
		{" 8 , 0 - 3 ", []int{0, 1, 2, 3, 8}, "0-3,8"},
		{"3,2,1,0", []int{0, 1, 2, 3}, "0-3"},
		{"0,1", []int{0, 1}, "0-1"},
		{"1-1", []int{1}, "1"},
		{"0-2,1-4,9,11", []int{0, 1, 2, 3, 4, 9, 11}, "0-4,9,11"},
		{"007", []int{7}, "7"},
		{"0-7:2/4", []int{0, 1, 4, 5}, "0-1,4-5"},
		{"63-65", []int{63, 64, 65}, "63-65"},
		{"1023", []int{1023}, "1023"},
	} {
		set, err := affinity.ParseCPUSet(tc.in)
		if err != nil {
			t.Errorf("ParseCPUSet(%q): %v", tc.in, err)
			continue
		}
		if got := set.CPUs(); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("ParseCPUSet(%q).CPUs() = %v, want %v", tc.in, got, tc.want)
		}
		if got := set.String(); got != tc.str {
			t.Errorf("ParseCPUSet(%q).String() = %q, want %q", tc.in, got, tc.str)
		}
		if set.Len() != len(tc.want) {
			t.Errorf("ParseCPUSet(%q).Len() = %d, want %d", tc.in, set.Len(), len(tc.want))
		}
	}
}

func TestParseCPUSetErrors(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"x", `bad cpu number "x"`},
		{"0-3x", `bad cpu number "3x"`},
		{"5-3", "reversed range 5-3"},
		{"1024", "exceeds maximum 1023"},
		{"99999999999999999999999", "exceeds maximum 1023"},
		{"0,,1", "empty item"},
		{"0,", "empty item"},
		{",", "empty item"},
		{"-1", "missing cpu number"},
		{"1-", "missing cpu number"},
		{"+1", `bad cpu number "+1"`},
		{"1-2-3", `bad cpu number "2-3"`},
		{"0 1", `bad cpu number "0 1"`},
		{"0-7:2", `stride "2" is not used/group`},
		{"0-7:3/2", "stride 3/2"},
		{"0-7:0/2", "stride 0/2"},
	} {
		_, err := affinity.ParseCPUSet(tc.in)
		if !errors.Is(err, affinity.ErrInvalidCPUList) {
			t.Errorf("ParseCPUSet(%q) error = %v, want ErrInvalidCPUList", tc.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseCPUSet(%q) error = %q, want one line containing %q", tc.in, err, tc.msg)
		}
	}
}

func TestCPUSetMethods(t *testing.T) {
	var s affinity.CPUSet
	if s.Len() != 0 || s.String() != "" || s.Contains(0) {
		t.Fatalf("zero CPUSet not empty: %q", s)
	}
	for _, c := range []int{5, 0, 64, 1, 5} {
		if err := s.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := s.String(), "0-1,5,64"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if s.Len() != 4 || !s.Contains(64) || s.Contains(63) || s.Contains(-1) || s.Contains(affinity.MaxCPUs) {
		t.Errorf("Len/Contains wrong for %s", s)
	}
	for _, bad := range []int{-1, affinity.MaxCPUs} {
		if err := s.Add(bad); !errors.Is(err, affinity.ErrCPUOutOfRange) {
			t.Errorf("Add(%d) error = %v, want ErrCPUOutOfRange", bad, err)
		}
	}
	n, err := affinity.NewCPUSet(64, 5, 1, 0)
	if err != nil || n != s {
		t.Errorf("NewCPUSet = %s, %v; want %s equal to Add result", n, err, s)
	}

	text, _ := s.MarshalText()
	var back affinity.CPUSet
	if err := back.UnmarshalText(text); err != nil || back != s {
		t.Errorf("text round trip: %s, %v", back, err)
	}
	if err := back.UnmarshalText([]byte("3-1")); err == nil || back != s {
		t.Errorf("UnmarshalText of bad list: err %v, set changed to %s", err, back)
	}
}

func TestCPUSetAllocs(t *testing.T) {
	s, _ := affinity.ParseCPUSet("0-3,8,10-700")
	if n := testing.AllocsPerRun(100, func() { _ = s.Contains(9) || s.Len() == 0 }); n != 0 {
		t.Errorf("Contains/Len allocate %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = s.String() }); n > 1 {
		t.Errorf("String allocates %v times, want at most 1", n)
	}
}

func FuzzParseCPUSet(f *testing.F) {
	for _, s := range []string{"", "0", "0-3,8", " 1 , 2-4\n", "0-1023", "1023", "0-7:2/4",
		"5-3", "1024", "x", "0,,1", "-", "0-", "1-2-3", "0-7:3/2", "63,64,65"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		set, err := affinity.ParseCPUSet(in)
		if err != nil {
			if !errors.Is(err, affinity.ErrInvalidCPUList) {
				t.Fatalf("ParseCPUSet(%q) error %v does not wrap ErrInvalidCPUList", in, err)
			}
			return
		}
		str := set.String()
		again, err := affinity.ParseCPUSet(str)
		if err != nil {
			t.Fatalf("ParseCPUSet(%q) -> %q does not parse: %v", in, str, err)
		}
		if again != set || again.String() != str {
			t.Fatalf("round trip of %q: %q -> %q", in, str, again)
		}
		if cpus := set.CPUs(); len(cpus) != set.Len() || !slices.IsSorted(cpus) {
			t.Fatalf("CPUs() = %v inconsistent with Len() = %d", cpus, set.Len())
		}
		for _, c := range set.CPUs() {
			if !set.Contains(c) {
				t.Fatalf("%q: CPUs() lists %d but Contains is false", str, c)
			}
		}
	})
}
