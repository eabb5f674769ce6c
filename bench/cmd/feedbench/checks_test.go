package main

import (
	"strings"
	"testing"
	"time"
)

func TestDiagnoseNamesTheBottleneck(t *testing.T) {
	sp := spec{sys: feedbus, size: 1024, rate: 104_000, duration: 2500 * time.Millisecond}
	s := sample{spec: sp, sent: 260_000, received: 254_668, lost: 5_332, udpOut: 192_221, udpIn: 192_221, txBytes: 290_000_000,
		during: window{secs: 2, busy: 0.7, pub: cpuTime{app: 200 * time.Millisecond, io: 1160 * time.Millisecond}}}
	d := diagnose(s)
	for _, want := range []string{"its PUB socket dropped them at the high-water mark", "the publisher's NIC sent 928.0 Mbit/s", "93% of ZMQ_RATE"} {
		if !strings.Contains(d, want) {
			t.Errorf("diagnosis lacks %q: %s", want, d)
		}
	}
	s.udpRcvbufErrors = 10
	if d := diagnose(s); !strings.Contains(d, "dropped 10 datagrams for a full socket receive buffer") {
		t.Errorf("rcvbuf drops not named: %s", d)
	}
	s.spec.sys, s.spec.rate, s.sent = wire, 300_000, 500_000
	if d := diagnose(s); !strings.Contains(d, "could not keep the pace") || strings.Contains(d, "ZMQ_RATE") {
		t.Errorf("wire: %s", d)
	}
}

func TestDiagnoseFeedpubFullLine(t *testing.T) {
	s := sample{spec: spec{sys: feedbus, size: 1024, rate: 100_000, duration: time.Second}, sent: 100_000, received: 93_471, lost: 6_529, pubFull: 6_529, udpOut: 1, udpIn: 1}
	if d := diagnose(s); !strings.Contains(d, "feedpub dropped 6,529 frames because line A's queue was full") {
		t.Errorf("diagnosis: %s", d)
	}
}
func TestDiagnoseDrainedQueue(t *testing.T) {
	s := sample{spec: spec{sys: feedbus, size: 64, rate: 73_800, pgmRate: 20_000, duration: 2500 * time.Millisecond},
		sent: 184_500, received: 184_500, sessions: 1, msgsPerS: 36_000, elapsedS: 5.1}
	if ok, why := s.verdict(); ok || why != "subscriber received at only 49% of the rate" {
		t.Errorf("verdict %v %q", ok, why)
	}
	if d := diagnose(s); !strings.Contains(d, "everything arrived, but at 36,000 msg/s over 5.1s") {
		t.Errorf("diagnosis: %s", d)
	}
}
