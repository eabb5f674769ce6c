package main

import (
	"errors"
	"testing"
)

func TestEncodeDecode(t *testing.T) {
	b := make([]byte, 128)
	pad(b)
	encode(b[:64], 42, 1_700_000_000_123_456_789)
	encode(b[64:], 43, 7)
	seq, ns, n, err := decode(b)
	if err != nil || seq != 42 || ns != 1_700_000_000_123_456_789 || n != 64 {
		t.Fatalf("decode = %d, %d, %d, %v; want 42, 1700000000123456789, 64, nil", seq, ns, n, err)
	}
	if seq, ns, n, err := decode(b[n:]); err != nil || seq != 43 || ns != 7 || n != 64 {
		t.Fatalf("second message: %d, %d, %d, %v", seq, ns, n, err)
	}
	if b[headerLen] != headerLen || b[63] != 63 {
		t.Errorf("padding overwritten: % x", b[headerLen:64])
	}
	// A marker round-trips too.
	encode(b[:64], 0, -5)
	if seq, ns, _, err := decode(b); err != nil || seq != 0 || ns != -5 {
		t.Fatalf("marker: decode = %d, %d, %v", seq, ns, err)
	}
}

func TestDecodeRejectsStrangers(t *testing.T) {
	long := make([]byte, 64)
	encode(long, 1, 1)
	long[4] = 200 // a length past the datagram
	for name, b := range map[string][]byte{
		"short":     []byte("fbuw1234"),
		"bad magic": make([]byte, 64),
		"empty":     nil,
		"too long":  long,
	} {
		if _, _, _, err := decode(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: err %v, want errMalformed", name, err)
		}
	}
}
