//go:build !linux

package bus

import (
	"errors"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

var errUDPNotLinux = errors.New("udp:// lines need Linux (recvmmsg, SO_TIMESTAMPNS, SO_RXQ_OVFL)")

type udpSender struct{}

func openUDPSender(Endpoint, *Options) (*udpSender, error) { return nil, errUDPNotLinux }
func (*udpSender) send([]byte) (bool, error)               { return false, errUDPNotLinux }
func (*udpSender) waitWritable(time.Duration) error        { return errUDPNotLinux }
func (*udpSender) sendBatch([][]byte) (int, bool, error)   { return 0, false, errUDPNotLinux }
func (*udpSender) close() error                            { return nil }

type udpReceiver struct {
	drops, trunc, full, errs atomic.Uint64
	tid                      atomic.Int64
}

func openUDPReceiver(Endpoint, int, *Options, *atomic.Bool, int) (*udpReceiver, error) {
	return nil, errUDPNotLinux
}
func (*udpReceiver) next() ([]byte, int64, bool, bool) { return nil, 0, false, false }
func (*udpReceiver) release()                          {}
func (*udpReceiver) pending() bool                     { return false }
func (*udpReceiver) drainWake()                        {}
func (*udpReceiver) close() error                      { return nil }
func (*udpReceiver) rejoin(Endpoint) error             { return errUDPNotLinux }
func (*udpReceiver) wakeFD() int                       { return -1 }

func pollFor([]unix.PollFd, time.Duration) error { return errUDPNotLinux }
