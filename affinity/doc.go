// Package affinity places feedbus threads on CPU cores.
//
// It parses and prints Linux cpu lists ([CPUSet]), reads the CPU, SMT,
// NUMA and NIC layout from sysfs ([ReadTopology]), pins threads with
// sched_setaffinity ([PinCurrentThread], [SetThreadAffinity]) and finds
// libzmq's I/O threads by name so they can be pinned too ([IOThreads],
// [PinIOThreads]); pebbe/zmq4 does not expose ZMQ_THREAD_AFFINITY_CPU_ADD.
// A host profile in TOML ([LoadProfile]) merged with command-line
// overrides gives a [Plan] that is checked against the topology before
// any thread starts.
//
// Pinning, thread discovery and [ReadTopology] work on Linux only;
// elsewhere they return an error wrapping [ErrNotSupported]. Parsing,
// profiles and plans are portable.
//
// # Concurrency
//
// [CPUSet] is a small value type: copies are independent and only Add
// mutates. A [Topology], [Profile] or [Plan] is not modified by any
// method and may be shared between goroutines once built. All functions
// may be called concurrently, but a thread has one affinity mask in the
// kernel, so concurrent calls that set the same thread race and the last
// one wins.
//
// # Resource lifetime
//
// The package starts no goroutines and keeps no files open: every /proc
// and /sys file is opened and closed within the call that reads it.
// [PinCurrentThread] holds runtime.LockOSThread on the calling goroutine
// until its restore function runs, which must happen on that goroutine.
// An affinity set on a libzmq I/O thread lasts as long as the thread,
// that is from the context's first socket until the context is
// terminated; a new context must be pinned again.
package affinity
