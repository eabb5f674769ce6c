package main

import (
	"encoding/binary"
	"errors"
)

// A datagram holds one or more market messages of -size bytes each (as
// many as fit -pack bytes, so the baseline batches as feedbus's frames
// do), one after the other:
//
//	[0:4]   magic "fbuw", so stray datagrams on the port are not counted
//	[4:6]   the message's length, little-endian: -size
//	[6:8]   zero
//	[8:16]  sequence number, little-endian; 1, 2, 3... for measured
//	        messages, 0 for the markers sent during warmup and linger
//	[16:24] send time, ns since the epoch, little-endian
//	[24:]   padding up to the length
const (
	magic     = "fbuw"
	headerLen = 24
	// maxSize keeps a datagram in one 1500-byte Ethernet frame: 1500 less
	// 20 bytes of IPv4 and 8 of UDP header.
	maxSize = 1472
)

var errMalformed = errors.New("not a udpwire datagram")

// encode writes the header of a message of len(b) bytes into b, which
// must be at least headerLen long.
func encode(b []byte, seq uint64, sendNs int64) {
	copy(b, magic)
	binary.LittleEndian.PutUint16(b[4:], uint16(len(b)))
	b[6], b[7] = 0, 0
	binary.LittleEndian.PutUint64(b[8:], seq)
	binary.LittleEndian.PutUint64(b[16:], uint64(sendNs))
}

// decode reads the header of the first message in b and returns its
// length too.
func decode(b []byte) (seq uint64, sendNs int64, n int, err error) {
	if len(b) < headerLen || string(b[:4]) != magic {
		return 0, 0, 0, errMalformed
	}
	n = int(binary.LittleEndian.Uint16(b[4:]))
	if n < headerLen || n > len(b) {
		return 0, 0, 0, errMalformed
	}
	return binary.LittleEndian.Uint64(b[8:]), int64(binary.LittleEndian.Uint64(b[16:])), n, nil
}

// pad fills b past the header with a fixed pattern, so the payload is not
// all zeros.
func pad(b []byte) {
	for i := headerLen; i < len(b); i++ {
		b[i] = byte(i)
	}
}
