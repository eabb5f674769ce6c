package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
)

// inputFeed is a CSV feed written for feedpub --input, with the books it
// implies, worked out here from the values written rather than by reading
// the file back.
type inputFeed struct {
	text  []byte
	good  int
	bad   []int // line numbers of the bad lines
	books map[string]*fanout.Book
	sums  map[string]float64 // Σ price × size per symbol, for VWAP
}

// makeInputFeed writes n good lines (quotes and trades of 50 symbols) with
// a comment, a blank line and a few bad lines among them.
func makeInputFeed(n int) *inputFeed {
	rng := rand.New(rand.NewPCG(7, 9))
	f := &inputFeed{books: map[string]*fanout.Book{}, sums: map[string]float64{}}
	var b bytes.Buffer
	line := 0
	emit := func(s string) { b.WriteString(s + "\n"); line++ }
	emit("# feedbus input test: quotes and trades")
	emit("")
	bad := map[int]string{
		n / 7:     "q,AAPL,189.5,oops,1,2",                       // price not a decimal
		n / 3:     "t,MSFT,411.5,100,x",                          // unknown side
		n / 2:     "z,MSFT,1,2",                                  // unknown record type
		2 * n / 3: "q,TOO_LONG_A_SYMBOL_FOR_THE_BUS_XYZ,1,2,3,4", // symbol over 32 bytes
		n - 10:    "t,IBM,1.123456789,5,b",                       // more than 8 decimals
	}
	seq := uint64(0)
	for i := 0; i < n; i++ {
		if s, ok := bad[i]; ok {
			emit(s)
			f.bad = append(f.bad, line)
		}
		sym := fmt.Sprintf("SYM%02d", rng.IntN(50))
		bk := f.books[sym]
		if bk == nil {
			bk = &fanout.Book{Symbol: sym}
			f.books[sym] = bk
		}
		seq++
		bk.Messages++
		bk.LastSeq = seq
		cents := 10_000 + rng.Int64N(5_000)
		if rng.IntN(4) == 0 {
			size := uint32(1 + rng.IntN(900))
			side, sideText := bus.SideBuy, "b"
			if rng.IntN(2) == 0 {
				side, sideText = bus.SideSell, "s"
			}
			emit(fmt.Sprintf("t,%s,%d.%02d,%d,%s", sym, cents/100, cents%100, size, sideText))
			bk.Trades++
			bk.LastPrice, bk.LastSize, bk.LastSide = cents*1_000_000, size, side
			bk.Volume += uint64(size)
			f.sums[sym] += float64(cents*1_000_000) * float64(size)
		} else {
			bid, ask := uint32(1+rng.IntN(1000)), uint32(1+rng.IntN(1000))
			emit(fmt.Sprintf("q,%s,%d.%02d,%d.%02d,%d,%d", sym, cents/100, cents%100, (cents+1)/100, (cents+1)%100, bid, ask))
			bk.Quotes++
			bk.BidPrice, bk.AskPrice = cents*1_000_000, (cents+1)*1_000_000
			bk.BidSize, bk.AskSize = bid, ask
		}
	}
	f.text, f.good = b.Bytes(), n
	return f
}

// TestInputCSV pipes a CSV file with a few bad lines through feedpub
// --input - to a subscriber: every good line arrives, the books are what
// the file implies, and each bad line is reported with its number.
func TestInputCSV(t *testing.T) {
	feed := makeInputFeed(12_000)
	dir := t.TempDir()
	ep := "ipc://" + filepath.Join(dir, "feed")
	s := &sub{json: filepath.Join(dir, "sub.json")}
	s.p = start(t, "feedsub", exec.Command(bin.feedsub, "--line", ep, "--count", strconv.Itoa(feed.good),
		"--idle", "10s", "--json", s.json, "--books", "1000"))
	s.p.waitJoined(t, 1)
	pubJSON := filepath.Join(dir, "pub.json")
	cmd := exec.Command(bin.feedpub, "--line", ep, "--input", "-", "--rate", "0", "--warmup", "500ms", "--linger", "200ms",
		"--json", pubJSON, "--on-full", "block")
	cmd.Stdin = bytes.NewReader(feed.text)
	pub := start(t, "feedpub", cmd)
	if err := pub.wait(t, time.Minute); err != nil {
		t.Fatalf("feedpub: %v", err)
	}
	for _, n := range feed.bad {
		if want := fmt.Sprintf("--input -: line %d: ", n); !strings.Contains(pub.stderr(), want) {
			t.Errorf("feedpub did not report bad line %d (want %q in its stderr)", n, want)
		}
	}
	if p := readPub(t, pubJSON); p.Messages != uint64(feed.good) || p.Rejected != uint64(len(feed.bad)) {
		t.Errorf("feedpub published %d and rejected %d, want %d and %d", p.Messages, p.Rejected, feed.good, len(feed.bad))
	}
	sum := s.summary(t)
	wantComplete(t, "feedsub", sum, feed.good)
	var want []fanout.Book
	for sym, bk := range feed.books {
		w := *bk
		if w.Volume > 0 {
			w.VWAP = feed.sums[sym] / float64(w.Volume)
		}
		want = append(want, w)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].Symbol < want[j].Symbol })
	if len(sum.Books) != len(want) {
		t.Fatalf("%d books, want %d", len(sum.Books), len(want))
	}
	for i, g := range sum.Books {
		w := want[i]
		if rel := (g.VWAP - w.VWAP) / max(w.VWAP, 1); rel > 1e-9 || rel < -1e-9 {
			t.Errorf("%s: VWAP %v, want %v", w.Symbol, g.VWAP, w.VWAP)
		}
		g.Worker, g.VWAP, w.VWAP = 0, 0, 0
		if g != w {
			t.Errorf("book differs:\n got %+v\nwant %+v", g, w)
		}
	}
}

// TestInputStrict: with --strict the first bad line stops feedpub with
// exit code 2 and a message naming the line.
func TestInputStrict(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("q,A,1,2,3,4\nt,A,1.5,10\nq,A,1,2,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin.feedpub, "--line", "ipc://"+filepath.Join(dir, "feed"), "--input", in, "--strict",
		"--linger", "0").CombinedOutput()
	code := -1
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 2 || !strings.Contains(string(out), "line 3: ") {
		t.Fatalf("feedpub --strict: exit %d, output:\n%s\nwant exit 2 naming line 3", code, out)
	}
}
