package main

import (
	"fmt"
	"runtime"
	"strings"

	zmq "github.com/pebbe/zmq4"
	"github.com/prometheus/procfs"
)

// machine describes where the numbers were taken.
type machine struct {
	nproc     int
	cpu       string
	kernel    string
	zmq       string
	goVersion string
	bufMax    int // the lab's effective rmem_max/wmem_max
}

func describeMachine(proc procfs.FS) machine {
	m := machine{nproc: runtime.NumCPU(), cpu: "unknown CPU", kernel: "unknown", goVersion: runtime.Version()}
	if cpus, err := proc.CPUInfo(); err == nil && len(cpus) > 0 && cpus[0].ModelName != "" {
		m.cpu = cpus[0].ModelName
	}
	if release, err := proc.SysctlStrings("kernel.osrelease"); err == nil && len(release) > 0 {
		m.kernel = strings.Join(release, " ")
	}
	major, minor, patch := zmq.Version()
	m.zmq = fmt.Sprintf("%d.%d.%d", major, minor, patch)
	return m
}
