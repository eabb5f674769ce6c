package auth

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/feedbus/feedbus/bus"
)

// docPath is the wire specification whose authenticated example this
// file pins.
const docPath = "../docs/wire.md"

// docHexBlocks returns the hex dumps in the ``` blocks of the section of
// docs/wire.md whose heading contains key (up to the next heading of the
// same or a higher level). A dump line is a 4-digit hex offset, two
// spaces and up to 16 hex bytes, the offsets counting the bytes.
func docHexBlocks(t *testing.T, key string) [][]byte {
	t.Helper()
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]byte
	var cur []byte
	level, inBlock := 0, false
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if level > 0 && inBlock {
				blocks = append(blocks, cur)
			}
			cur, inBlock = nil, !inBlock
			continue
		}
		if !inBlock && strings.HasPrefix(line, "#") {
			l := len(line) - len(strings.TrimLeft(line, "#"))
			if level == 0 && strings.Contains(line, key) {
				level = l
				continue
			}
			if level > 0 && l <= level {
				break
			}
		}
		if level == 0 || !inBlock {
			continue
		}
		off, rest, ok := strings.Cut(line, "  ")
		if n, err := strconv.ParseUint(off, 16, 32); !ok || len(off) != 4 || err != nil || int(n) != len(cur) {
			t.Fatalf("%s:%d: not a dump line at offset %04x: %q", docPath, lineNo, len(cur), line)
		}
		for _, f := range strings.Fields(rest) {
			b, err := hex.DecodeString(f)
			if err != nil || len(b) != 1 {
				t.Fatalf("%s:%d: bad byte %q", docPath, lineNo, f)
			}
			cur = append(cur, b[0])
		}
	}
	if level == 0 {
		t.Fatalf("%s: no heading contains %q", docPath, key)
	}
	return blocks
}

func docDump(b []byte) string {
	var s strings.Builder
	for i := 0; i < len(b); i += 16 {
		fmt.Fprintf(&s, "%04x ", i)
		for _, c := range b[i:min(i+16, len(b))] {
			fmt.Fprintf(&s, " %02x", c)
		}
		s.WriteByte('\n')
	}
	return s.String()
}

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
