//go:build !linux

package fanout

// gettid is never reached off Linux: pinning fails first.
func gettid() int { return 0 }
