package affinity_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/feedbus/feedbus/affinity"
)

func TestCPUSetUnix(t *testing.T) {
	s, err := affinity.ParseCPUSet("0,3,64-66,1023")
	if err != nil {
		t.Fatal(err)
	}
	u := s.Unix()
	if u.Count() != s.Len() {
		t.Fatalf("unix.CPUSet has %d CPUs, want %d", u.Count(), s.Len())
	}
	for _, c := range s.CPUs() {
		if !u.IsSet(c) {
			t.Errorf("unix.CPUSet lacks %d", c)
		}
	}
	if back := affinity.CPUSetFromUnix(&u); back != s {
		t.Errorf("CPUSetFromUnix = %s, want %s", back, s)
	}
	var empty unix.CPUSet
	if got := affinity.CPUSetFromUnix(&empty); got.Len() != 0 {
		t.Errorf("empty unix.CPUSet gave %s", got)
	}
}
