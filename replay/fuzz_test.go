package replay_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/replay"
)

// FuzzReader feeds the Reader damaged captures: it must return frames or
// an error, never panic, and never hand out a frame it should have
// refused. Its seeds include capture's golden file.
func FuzzReader(f *testing.F) {
	golden, err := os.ReadFile(goldenPath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add(recorded(f))
	be := newPcapng(binary.BigEndian)
	f.Add(be.shb().idb(147, 0, be.opt(9, []byte{0x80 | 20}), be.end()).epb(0, 1<<40, heartbeat, 40).bytes())
	f.Add(golden[:len(golden)-3])
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := replay.NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		var rec replay.Record
		// Every frame takes a block of at least 32 bytes, so this ends.
		for {
			err := r.Next(&rec)
			if err != nil {
				if err != io.EOF && !errors.Is(err, replay.ErrFormat) {
					t.Fatalf("error %v is neither io.EOF nor ErrFormat", err)
				}
				return
			}
			if rec.Line < 0 || rec.Line >= len(r.Lines()) {
				t.Fatalf("frame on line %d of %d", rec.Line, len(r.Lines()))
			}
			if len(rec.Frame) > bus.MaxFrameLen || rec.RecvTime < 0 {
				t.Fatalf("frame of %d bytes at %d", len(rec.Frame), rec.RecvTime)
			}
		}
	})
}
