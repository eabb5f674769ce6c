package bus

import (
	"fmt"
	"testing"
)

// Benchmarks of the per-message paths. Each reports ns per message and
// allocations; the encode and decode paths must stay at 0 allocs.

func benchMessages(size int) []Message {
	msgs := sampleMessages()[:2]
	for i := range msgs {
		msgs[i].Len = size
	}
	return msgs
}

func BenchmarkEncode(b *testing.B) {
	for _, size := range []int{64, 256, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			msgs := benchMessages(size)
			var w FrameWriter
			h := Header{Session: 1, FirstSeq: 1}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			w.Begin(&h)
			for i := 0; i < b.N; i++ {
				m := &msgs[i&1]
				if w.Len()+m.EncodedLen() > 1400 {
					w.Finish(int64(i))
					w.Begin(&h)
				}
				if err := w.Add(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, size := range []int{64, 256, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			fr, n := batchFrame(b, size)
			var f Frame
			var m Message
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i += n {
				if err := Decode(fr, &f); err != nil {
					b.Fatal(err)
				}
				for {
					if _, ok := f.Next(&m); !ok {
						break
					}
				}
			}
		})
	}
}

// batchFrame is a frame filled to the default 1400-byte budget.
func batchFrame(b *testing.B, size int) ([]byte, int) {
	msgs := benchMessages(size)
	var w FrameWriter
	w.Begin(&Header{Session: 1, FirstSeq: 1})
	for i := 0; w.Count() == 0 || w.Len()+msgs[i&1].EncodedLen() <= 1400; i++ {
		if err := w.Add(&msgs[i&1]); err != nil {
			b.Fatal(err)
		}
	}
	out := append([]byte(nil), w.Finish(1)...)
	return out, int(w.Count())
}

// BenchmarkBatching is the publisher's cost per message: encode into a
// frame and, when the frame is full, finish it (what feedpub hands to
// ZeroMQ), compared with one frame per message (what batching avoids).
func BenchmarkBatching(b *testing.B) {
	for _, perFrame := range []int{1, 21} {
		b.Run(fmt.Sprintf("%d-per-frame", perFrame), func(b *testing.B) {
			msgs := benchMessages(64)
			var w FrameWriter
			h := Header{Session: 1, FirstSeq: 1}
			frames := 0
			b.ReportAllocs()
			w.Begin(&h)
			for i := 0; i < b.N; i++ {
				if err := w.Add(&msgs[i&1]); err != nil {
					b.Fatal(err)
				}
				if int(w.Count()) == perFrame {
					w.Finish(int64(i))
					frames++
					h.FirstSeq += uint64(perFrame)
					w.Begin(&h)
				}
			}
			b.ReportMetric(float64(frames)/float64(b.N), "frames/msg")
		})
	}
}

func BenchmarkCompression(b *testing.B) {
	frames := feedFrames(b, 64)
	dictionary, err := TrainDictionary(frames, 16<<10)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		codec Codec
		dict  []byte
	}{{"s2", CodecS2, nil}, {"zstd", CodecZstd, nil}, {"zstd-dict", CodecZstd, dictionary}} {
		comp, err := NewCompressor(c.codec, c.dict)
		if err != nil {
			b.Fatal(err)
		}
		var dicts [][]byte
		if c.dict != nil {
			dicts = [][]byte{c.dict}
		}
		dec, err := NewDecoder(dicts...)
		if err != nil {
			b.Fatal(err)
		}
		var f Frame
		perFrame := 0
		if err := Decode(frames[0], &f); err == nil {
			perFrame = int(f.Count)
		}
		in, out := 0, 0
		for _, fr := range frames {
			in += len(fr)
			out += len(comp.Compress(fr))
		}
		b.Run(c.name+"/compress", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frames[0])))
			for i := 0; i < b.N; i++ {
				comp.Compress(frames[i%len(frames)])
			}
			b.ReportMetric(float64(in)/float64(out), "ratio")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perFrame), "ns/msg")
		})
		b.Run(c.name+"/decompress", func(b *testing.B) {
			zs := make([][]byte, len(frames))
			for i, fr := range frames {
				zs[i] = append([]byte(nil), comp.Compress(fr)...)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(frames[0])))
			for i := 0; i < b.N; i++ {
				if err := dec.Decode(zs[i%len(zs)], &f); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perFrame), "ns/msg")
		})
		dec.Close()
	}
}
