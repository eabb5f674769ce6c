package fanout

import "syscall"

func gettid() int { return syscall.Gettid() }
