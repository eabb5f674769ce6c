package main

import (
	"encoding/binary"
	"errors"
)

// A datagram is one market message of -size bytes:
//
//	[0:4]   magic "fbuw", so stray datagrams on the port are not counted
//	[4:12]  sequence number, little-endian; 1, 2, 3... for measured
//	        messages, 0 for the markers sent during warmup and linger
//	[12:20] send time, ns since the epoch, little-endian
//	[20:]   padding up to the size
const (
	magic     = "fbuw"
	headerLen = 20
	// maxSize keeps a datagram in one 1500-byte Ethernet frame: 1500 less
	// 20 bytes of IPv4 and 8 of UDP header.
	maxSize = 1472
)

var errMalformed = errors.New("not a udpwire datagram")

// encode writes the header into b, which must be at least headerLen long.
func encode(b []byte, seq uint64, sendNs int64) {
	copy(b, magic)
	binary.LittleEndian.PutUint64(b[4:], seq)
	binary.LittleEndian.PutUint64(b[12:], uint64(sendNs))
}

// decode reads the header of a received datagram.
func decode(b []byte) (seq uint64, sendNs int64, err error) {
	if len(b) < headerLen || string(b[:4]) != magic {
		return 0, 0, errMalformed
	}
	return binary.LittleEndian.Uint64(b[4:]), int64(binary.LittleEndian.Uint64(b[12:])), nil
}

// pad fills b past the header with a fixed pattern, so the payload is not
// all zeros.
func pad(b []byte) {
	for i := headerLen; i < len(b); i++ {
		b[i] = byte(i)
	}
}
