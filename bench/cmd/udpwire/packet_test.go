package main

import (
	"errors"
	"testing"
)

func TestEncodeDecode(t *testing.T) {
	b := make([]byte, 64)
	pad(b)
	encode(b, 42, 1_700_000_000_123_456_789)
	seq, ns, err := decode(b)
	if err != nil || seq != 42 || ns != 1_700_000_000_123_456_789 {
		t.Fatalf("decode = %d, %d, %v; want 42, 1700000000123456789, nil", seq, ns, err)
	}
	if b[headerLen] != headerLen || b[63] != 63 {
		t.Errorf("padding overwritten: % x", b[headerLen:])
	}
	// A marker round-trips too.
	encode(b, 0, -5)
	if seq, ns, err := decode(b); err != nil || seq != 0 || ns != -5 {
		t.Fatalf("marker: decode = %d, %d, %v", seq, ns, err)
	}
}

func TestDecodeRejectsStrangers(t *testing.T) {
	for name, b := range map[string][]byte{
		"short":     []byte("fbuw1234"),
		"bad magic": make([]byte, 64),
		"empty":     nil,
	} {
		if _, _, err := decode(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: err %v, want errMalformed", name, err)
		}
	}
}
