package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/feedbus/feedbus/internal/wiredoc"

	"github.com/feedbus/feedbus/bus"
)

// docPath is the wire specification whose authenticated example this
// file pins.
const docPath = "../docs/wire.md"

// docHexBlocks returns the hex dumps of the docs/wire.md section whose
// heading contains key.
func docHexBlocks(t *testing.T, key string) [][]byte { return wiredoc.HexBlocks(t, docPath, key) }

// docDump formats b as docs/wire.md writes a dump.
func docDump(b []byte) string { return wiredoc.Dump(b) }

// TestWireDocAuthExample checks the worked example of docs/wire.md §12
// against the Signer, and against the recipe the document gives, computed
// here with the standard library alone.
func TestWireDocAuthExample(t *testing.T) {
	// The example's key: id 2, secret 00 01 02 ... 1f.
	secret := make([]byte, 32)
	for i := range secret {
		secret[i] = byte(i)
	}
	keys, err := NewKeys(0, Key{ID: 2, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(keys)
	if err != nil {
		t.Fatal(err)
	}
	// The trade frame of §10.1.
	h := bus.Header{Session: 0x0102030405060708, Stream: 9, FirstSeq: 5, SendTime: 0x1122334455667788}
	var w bus.FrameWriter
	w.Begin(&h)
	if err := w.Add(&bus.Message{Kind: bus.KindTrade, Symbol: []byte("AB"), Price: 3, Size: 4, Side: bus.SideBuy}); err != nil {
		t.Fatal(err)
	}
	unsigned := bytes.Clone(w.Finish(h.SendTime))
	signed, err := s.Sign(bytes.Clone(unsigned))
	if err != nil {
		t.Fatal(err)
	}

	blocks := docHexBlocks(t, "Example: an authenticated frame")
	if len(blocks) != 2 {
		t.Fatalf("%d dumps in the section, want 2 (the MAC key, the frame)", len(blocks))
	}
	if macKey := keys.macKey(2); !bytes.Equal(blocks[0], macKey) {
		t.Errorf("the MAC key in %s differs; the code derives\n%s", docPath, docDump(macKey))
	}
	if !bytes.Equal(blocks[1], signed) {
		t.Errorf("the frame in %s differs from the Signer's; it signs\n%s", docPath, docDump(signed))
	}

	// The document's recipe, from the documented bytes.
	doc := blocks[1]
	n := len(doc)
	mk := hmac.New(sha256.New, secret)
	mk.Write([]byte("feedbus frame MAC v1"))
	macKey := mk.Sum(nil)
	mac := hmac.New(sha256.New, macKey)
	mac.Write(doc[:n-16])
	if tag := mac.Sum(nil)[:16]; !bytes.Equal(tag, doc[n-16:]) {
		t.Errorf("HMAC-SHA256 of the documented frame's first %d bytes under the derived key gives % x, the document % x", n-16, tag, doc[n-16:])
	}
	if id := binary.LittleEndian.Uint32(doc[n-20:]); id != 2 || doc[5] != bus.FlagAuth {
		t.Errorf("key id %d, flags %#02x; want 2, 0x20", id, doc[5])
	}
	if !bytes.Equal(doc[:5], unsigned[:5]) || !bytes.Equal(doc[6:n-20], unsigned[6:]) {
		t.Error("the documented frame is not §10.1's with FlagAuth and a trailer")
	}

	// It verifies at its send time, decodes to §10.1's trade, and fails
	// ten seconds and a nanosecond later.
	v := NewVerifier(keys)
	if err := v.Verify(doc, h.SendTime); err != nil {
		t.Errorf("Verify of the documented frame: %v", err)
	}
	if err := v.Verify(doc, h.SendTime+int64(DefaultWindow)+1); err != ErrStale {
		t.Errorf("Verify past the window: %v, want ErrStale", err)
	}
	var f bus.Frame
	if err := bus.Decode(doc, &f); err != nil {
		t.Fatal(err)
	}
	var m bus.Message
	if seq, ok := f.Next(&m); !ok || seq != 5 || m.Kind != bus.KindTrade || string(m.Symbol) != "AB" || m.Price != 3 {
		t.Errorf("decoded %d %+v", seq, m)
	}
}
