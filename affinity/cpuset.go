package affinity

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// MaxCPUs is one more than the highest CPU number a CPUSet can hold. It
// matches the size of unix.CPUSet, the mask sched_setaffinity is called
// with, so every CPUSet can be applied.
const MaxCPUs = 1024

// CPUSet is a set of CPU numbers in [0, MaxCPUs). The zero value is the
// empty set. CPUSet is comparable with ==.
//
// Its text form is the Linux cpu-list syntax used by sysfs, taskset -c and
// isolcpus: comma-separated CPUs and inclusive ranges such as "0-3,8".
type CPUSet struct {
	bits [MaxCPUs / 64]uint64
}

// NewCPUSet returns the set of the given CPUs.
func NewCPUSet(cpus ...int) (CPUSet, error) {
	var s CPUSet
	for _, c := range cpus {
		if err := s.Add(c); err != nil {
			return CPUSet{}, err
		}
	}
	return s, nil
}

// ParseCPUSet parses a Linux cpu list: comma-separated items, each a CPU
// "N", an inclusive range "N-M", or a strided range "N-M:used/group" (the
// first used CPUs of every group CPUs, as the kernel accepts in isolcpus).
// Blank space around items and numbers is ignored and an empty or blank
// string is the empty set.
func ParseCPUSet(s string) (CPUSet, error) {
	set, err := parseCPUList(s)
	if err != nil {
		return CPUSet{}, fmt.Errorf("%w %q: %v", ErrInvalidCPUList, s, err)
	}
	return set, nil
}

// parseCPUList returns errors without a prefix so callers can say where
// the list came from.
func parseCPUList(s string) (CPUSet, error) {
	var set CPUSet
	if strings.TrimSpace(s) == "" {
		return set, nil
	}
	for rest, more := s, true; more; {
		var item string
		item, rest, more = strings.Cut(rest, ",")
		if err := set.addItem(strings.TrimSpace(item)); err != nil {
			return CPUSet{}, err
		}
	}
	return set, nil
}

func (s *CPUSet) addItem(item string) error {
	if item == "" {
		return errors.New("empty item")
	}
	lo, hi, isRange := strings.Cut(item, "-")
	first, err := parseNum(lo, "cpu", MaxCPUs-1)
	if err != nil {
		return err
	}
	if !isRange {
		s.set(first)
		return nil
	}
	hi, stride, hasStride := strings.Cut(hi, ":")
	last, err := parseNum(hi, "cpu", MaxCPUs-1)
	if err != nil {
		return err
	}
	if last < first {
		return fmt.Errorf("reversed range %d-%d", first, last)
	}
	used, group := 1, 1
	if hasStride {
		u, g, ok := strings.Cut(stride, "/")
		if !ok {
			return fmt.Errorf("stride %q is not used/group", strings.TrimSpace(stride))
		}
		if used, err = parseNum(u, "stride", MaxCPUs); err != nil {
			return err
		}
		if group, err = parseNum(g, "stride group", MaxCPUs); err != nil {
			return err
		}
		if used == 0 || used > group {
			return fmt.Errorf("stride %d/%d: want 0 < used <= group", used, group)
		}
	}
	for c := first; c <= last; c++ {
		if (c-first)%group < used {
			s.set(c)
		}
	}
	return nil
}

// parseNum parses decimal digits only, because strconv.Atoi would also
// take signs and "-" is the range separator.
func parseNum(str, what string, max int) (int, error) {
	str = strings.TrimSpace(str)
	if str == "" {
		return 0, fmt.Errorf("missing %s number", what)
	}
	n := 0
	for i := 0; i < len(str); i++ {
		c := str[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad %s number %q", what, str)
		}
		if n <= max { // stop growing once too big: no overflow
			n = n*10 + int(c-'0')
		}
	}
	if n > max {
		return 0, fmt.Errorf("%s number %s exceeds maximum %d", what, str, max)
	}
	return n, nil
}

func (s *CPUSet) set(cpu int) { s.bits[cpu/64] |= 1 << (cpu % 64) }

// Add adds cpu to the set.
func (s *CPUSet) Add(cpu int) error {
	if cpu < 0 || cpu >= MaxCPUs {
		return fmt.Errorf("%w: %d (want 0-%d)", ErrCPUOutOfRange, cpu, MaxCPUs-1)
	}
	s.set(cpu)
	return nil
}

// Contains reports whether cpu is in the set.
func (s CPUSet) Contains(cpu int) bool {
	return cpu >= 0 && cpu < MaxCPUs && s.bits[cpu/64]&(1<<(cpu%64)) != 0
}

// Len returns the number of CPUs in the set.
func (s CPUSet) Len() int {
	n := 0
	for _, w := range s.bits {
		n += bits.OnesCount64(w)
	}
	return n
}

// CPUs returns the CPUs in the set in ascending order.
func (s CPUSet) CPUs() []int {
	cpus := make([]int, 0, s.Len())
	for c := s.next(0); c >= 0; c = s.next(c + 1) {
		cpus = append(cpus, c)
	}
	return cpus
}

// next returns the lowest CPU >= from in the set, or -1.
func (s CPUSet) next(from int) int {
	if c := s.scan(from, 0); c < MaxCPUs {
		return c
	}
	return -1
}

// nextClear returns the lowest CPU >= from not in the set, or MaxCPUs.
func (s CPUSet) nextClear(from int) int { return s.scan(from, ^uint64(0)) }

// scan returns the lowest bit >= from set in the words xored with flip,
// or MaxCPUs; it works a word at a time.
func (s CPUSet) scan(from int, flip uint64) int {
	if from < 0 {
		from = 0
	}
	for i := from / 64; i < len(s.bits); i++ {
		w := s.bits[i] ^ flip
		if i == from/64 {
			w &= ^uint64(0) << (from % 64)
		}
		if w != 0 {
			return i*64 + bits.TrailingZeros64(w)
		}
	}
	return MaxCPUs
}

// minus returns the CPUs of s that are not in o.
func (s CPUSet) minus(o CPUSet) CPUSet {
	for i := range s.bits {
		s.bits[i] &^= o.bits[i]
	}
	return s
}

// String returns the canonical cpu list, e.g. "0-3,8", as the kernel
// prints it; the empty set is "".
func (s CPUSet) String() string {
	var buf [64]byte
	return string(s.appendList(buf[:0]))
}

func (s CPUSet) appendList(b []byte) []byte {
	for c := s.next(0); c >= 0; {
		end := s.nextClear(c) - 1
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(c), 10)
		if end > c {
			b = append(b, '-')
			b = strconv.AppendInt(b, int64(end), 10)
		}
		c = s.next(end + 1)
	}
	return b
}

// AppendText implements encoding.TextAppender.
func (s CPUSet) AppendText(b []byte) ([]byte, error) { return s.appendList(b), nil }

// MarshalText implements encoding.TextMarshaler with the cpu-list form.
func (s CPUSet) MarshalText() ([]byte, error) { return s.appendList(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseCPUSet, so
// a CPUSet works with flag.TextVar.
func (s *CPUSet) UnmarshalText(text []byte) error {
	set, err := ParseCPUSet(string(text))
	if err != nil {
		return err
	}
	*s = set
	return nil
}
