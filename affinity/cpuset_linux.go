package affinity

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Fails to compile unless unix.CPUSet holds exactly MaxCPUs bits, so that
// conversions in both directions are lossless.
var _ = [1]struct{}{}[unsafe.Sizeof(unix.CPUSet{})*8-MaxCPUs]

// Unix returns s as the mask type of unix.SchedSetaffinity.
func (s CPUSet) Unix() unix.CPUSet {
	var u unix.CPUSet
	for c := s.next(0); c >= 0; c = s.next(c + 1) {
		u.Set(c)
	}
	return u
}

// CPUSetFromUnix returns the CPUs set in u.
func CPUSetFromUnix(u *unix.CPUSet) CPUSet {
	var s CPUSet
	for c := 0; c < MaxCPUs; c++ {
		if u.IsSet(c) {
			s.set(c)
		}
	}
	return s
}
