package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedbus/feedbus/bench/lab"
	"github.com/feedbus/feedbus/internal/metricstest"
	"github.com/feedbus/feedbus/internal/summary"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// readmeCommand is one feedpub, feedsub or feedcache command line of a
// code block in the README, as a shell would split it.
type readmeCommand struct {
	section string // the "## " heading it is under
	prog    string
	args    []string
	piped   bool // it reads a pipe (some-program | feedpub ...)
	used    bool
}

func (c *readmeCommand) String() string {
	return c.section + ": " + c.prog + " " + strings.Join(c.args, " ")
}

// readme is the README's code blocks, parsed: every feedbus command line,
// and the text blocks by section.
type readme struct {
	commands []*readmeCommand
	blocks   map[string][]string // section: its code blocks' text
}

// readREADME parses the README with a Markdown parser and each code block
// with a shell parser, so a command reads as a user's shell would read it:
// quotes, line continuations, comments and pipes.
func readREADME(t *testing.T) *readme {
	t.Helper()
	src, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	r := &readme{blocks: map[string][]string{}}
	section := ""
	doc := goldmark.DefaultParser().Parse(text.NewReader(src))
	err = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			if n.Level == 2 {
				section = string(n.Lines().Value(src))
			}
		case *ast.FencedCodeBlock:
			code := string(n.Lines().Value(src))
			r.blocks[section] = append(r.blocks[section], code)
			cmds, err := shellCommands(section, code)
			if err != nil && string(n.Language(src)) == "sh" {
				return ast.WalkStop, fmt.Errorf("README, %s: a sh block that does not parse: %w", section, err)
			}
			r.commands = append(r.commands, cmds...) // other blocks (output, TOML, CSV) hold no commands
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// shellCommands returns the feedbus commands of a block of shell.
func shellCommands(section, code string) ([]*readmeCommand, error) {
	f, err := syntax.NewParser().Parse(strings.NewReader(code), "")
	if err != nil {
		return nil, err
	}
	piped := map[*syntax.CallExpr]bool{}
	var out []*readmeCommand
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.BinaryCmd:
			if call, ok := n.Y.Cmd.(*syntax.CallExpr); ok && (n.Op == syntax.Pipe || n.Op == syntax.PipeAll) {
				piped[call] = true
			}
		case *syntax.CallExpr:
			words, err2 := expand.Fields(nil, n.Args...)
			if err2 != nil {
				err = err2
				return false
			}
			if len(words) > 0 && slices.Contains([]string{"feedpub", "feedsub", "feedcache"}, words[0]) {
				out = append(out, &readmeCommand{section: section, prog: words[0], args: words[1:], piped: piped[n]})
			}
		}
		return true
	})
	return out, err
}

// take returns the README's one command of prog in section whose
// arguments include every one of has, and marks it used.
func (r *readme) take(t *testing.T, section, prog string, has ...string) *readmeCommand {
	t.Helper()
	var found []*readmeCommand
	for _, c := range r.commands {
		if c.section == section && c.prog == prog && !c.used && containsAll(c.args, has) {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("README, %q: %d %s commands with %q, want 1 (the test follows the README: mend one or the other)", section, len(found), prog, has)
	}
	found[0].used = true
	return found[0]
}

// lineArgs returns the endpoints of a command's --line flags.
func lineArgs(c *readmeCommand) []string {
	var out []string
	for i, a := range c.args {
		if a == "--line" && i+1 < len(c.args) {
			out = append(out, c.args[i+1])
		}
	}
	return out
}

func containsAll(args, has []string) bool {
	for _, h := range has {
		if !slices.Contains(args, h) {
			return false
		}
	}
	return true
}

// siteArgs fits a README command to the lab, as a reader fits it to their
// site, and to this machine, changing nothing else:
//   - CPU numbers past this machine's wrap around onto its CPUs;
//   - the recovery servers' host names (cache1, cache2) become the lab
//     hosts' addresses in hosts;
//   - --json PATH is replaced, and added where missing, with a file in dir:
//     the summaries are what the test checks.
func siteArgs(c *readmeCommand, hosts map[string]string, json string) []string {
	var out []string
	for i := 0; i < len(c.args); i++ {
		a := c.args[i]
		switch {
		case (a == "--pin-io" || a == "--pin-recv" || a == "--pin-workers") && i+1 < len(c.args):
			out = append(out, a, wrapCPUs(c.args[i+1]))
			i++
		case a == "--recovery" && i+1 < len(c.args):
			ep := c.args[i+1]
			for name, addr := range hosts {
				ep = strings.Replace(ep, "//"+name+":", "//"+addr+":", 1)
			}
			out = append(out, a, ep)
			i++
		case a == "--json" && i+1 < len(c.args):
			i++ // replaced below
		default:
			out = append(out, a)
		}
	}
	if json != "" {
		out = append(out, "--json", json)
	}
	return out
}

var cpuNumber = regexp.MustCompile(`[0-9]+`)

func wrapCPUs(list string) string {
	return cpuNumber.ReplaceAllStringFunc(list, func(s string) string {
		n, _ := strconv.Atoi(s)
		return strconv.Itoa(n % runtime.NumCPU())
	})
}

// TestREADMECommands runs every feedpub, feedsub and feedcache command of
// the README's code blocks in the lab, whose hosts have the README's eth1
// and eth2, as written but for what siteArgs changes, and checks that each
// does what its section says. A command the test does not know fails it,
// so a new example in the README gets run too.
func TestREADMECommands(t *testing.T) {
	r := readREADME(t)
	if len(r.commands) == 0 {
		t.Fatal("no feedbus commands found in the README's code blocks")
	}
	ran := 0 // the check for commands left out holds when every part ran
	t.Run("quick start", func(t *testing.T) {
		ran++
		c := r.take(t, "Quick start", "feedpub", "--version")
		out, err := exec.Command(bin.feedpub, c.args...).Output()
		if err != nil || !strings.HasPrefix(string(out), "feedpub ") {
			t.Errorf("feedpub --version: %v, output %q", err, out)
		}
	})
	l := requireLab(t, labConfig)
	dir := t.TempDir()
	var published uint64
	t.Run("running it", func(t *testing.T) {
		ran++
		published = readmeRunningIt(t, l, r, dir)
	})
	t.Run("capture and replay", func(t *testing.T) {
		ran++
		if published == 0 {
			t.Fatal("running it failed or did not run: there is no capture to replay")
		}
		readmeReplay(t, l, r, dir, published)
	})
	t.Run("text input", func(t *testing.T) { ran++; readmeTextInput(t, l, r) })
	t.Run("recovery and metrics", func(t *testing.T) { ran++; readmeRecoveryMetrics(t, l, r) })
	if ran < 5 {
		return
	}
	for _, c := range r.commands {
		if !c.used {
			t.Errorf("README command not run by this test: %s", c)
		}
	}
}

// start starts c on host h, in dir, fitted by siteArgs.
func (c *readmeCommand) start(t *testing.T, ctx context.Context, l *lab.Lab, h lab.Host, dir, json string, hosts map[string]string) *proc {
	t.Helper()
	path := map[string]string{"feedpub": bin.feedpub, "feedsub": bin.feedsub, "feedcache": bin.feedcache}[c.prog]
	cmd := l.Command(ctx, h, path, siteArgs(c, hosts, json)...)
	cmd.Dir = dir
	return start(t, c.prog+"@"+h.Name, cmd)
}

// interrupt sends SIGINT, as Ctrl-C would, and wants a clean end.
func interrupt(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatalf("%s after SIGINT: %v", p.name, err)
	}
}

// readmeRunningIt runs "Running it": the publisher at 100k msg/s on both
// lines, stopped with SIGINT after 2 s of the feed, and the subscriber,
// which ends 10 s after the last message (--idle 10s), exit 0; beside them
// the "Capture and replay" subscriber records the feed to feed.pcapng in
// dir. It returns the messages published.
func readmeRunningIt(t *testing.T, l *lab.Lab, r *readme, dir string) uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pubCmd := r.take(t, "Running it", "feedpub")
	subCmd := r.take(t, "Running it", "feedsub")
	capCmd := r.take(t, "Capture and replay", "feedsub", "--capture")
	subJSON, capJSON, pubJSON := filepath.Join(dir, "sub.json"), filepath.Join(dir, "capture.json"), filepath.Join(dir, "pub.json")

	sub := &sub{json: subJSON, p: subCmd.start(t, ctx, l, l.Subs()[0], dir, subJSON, nil)}
	sub.p.waitJoined(t, 2)
	capturing := capCmd.start(t, ctx, l, l.Subs()[1], dir, capJSON, nil)
	capturing.waitJoined(t, 2)
	pub := pubCmd.start(t, ctx, l, l.Pub(), dir, pubJSON, nil)
	sub.p.waitFor(t, 30*time.Second, "2 s of the feed", func(s string) bool { return sub.received(s) >= 200_000 })
	interrupt(t, pub) // it lingers 2 s, as it says, then ends
	p := readPub(t, pubJSON)
	interrupt(t, capturing)
	s := sub.summary(t) // exit 0: it ends by itself, 10 s after the last message
	c := readSummary(t, capJSON)
	for _, got := range []struct {
		what string
		s    *summary.Summary
	}{{"feedsub", s}, {"feedsub --capture", c}} {
		if got.s.Received != p.Messages || got.s.Gaps != 0 || got.s.Pending != 0 || got.s.Dropped != 0 {
			t.Errorf("%s: received %d of %d published, gaps %d, pending %d, dropped %d", got.what, got.s.Received, p.Messages, got.s.Gaps, got.s.Pending, got.s.Dropped)
		}
	}
	if s.EndReason != "idle" || c.EndReason != "signal" {
		t.Errorf("ended by %q and %q, want idle (--idle 10s) and signal", s.EndReason, c.EndReason)
	}
	t.Logf("published %d messages at %.0f msg/s; received %d and %d, duplicates %d", p.Messages, p.MsgsPerS, s.Received, c.Received, s.Duplicates)
	return p.Messages
}

// readmeReplay replays the capture as "Capture and replay" says, to a
// subscriber of its line: every message once, and the same count.
func readmeReplay(t *testing.T, l *lab.Lab, r *readme, dir string, published uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := r.take(t, "Capture and replay", "feedpub", "--replay")
	line := lineArgs(c)[0]
	check := startSub(t, ctx, l, l.Subs()[0], []string{line}, "--count", strconv.FormatUint(published, 10), "--idle", "10s")
	pubJSON := filepath.Join(dir, "replay.json")
	pub := c.start(t, ctx, l, l.Pub(), dir, pubJSON, nil)
	if err := pub.wait(t, time.Minute); err != nil {
		t.Fatalf("feedpub --replay: %v", err)
	}
	if p := readPub(t, pubJSON); p.Messages != published || p.Rejected != 0 {
		t.Errorf("the replay published %d messages and rejected %d, want %d and 0", p.Messages, p.Rejected, published)
	}
	wantComplete(t, "replay subscriber", check.summary(t), int(published))
}

// readmeTextInput publishes the README's example input with both of its
// "Real data: text input" commands: the example as standard input, and as
// quotes.csv. Every record of it goes out, none refused.
func readmeTextInput(t *testing.T, l *lab.Lab, r *readme) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const section = "Real data: text input"
	var example string
	for _, b := range r.blocks[section] {
		if strings.HasPrefix(b, "# ") && strings.Contains(b, "\nq,") {
			example = b
		}
	}
	records := 0
	for _, ln := range strings.Split(example, "\n") {
		if ln != "" && !strings.HasPrefix(ln, "#") {
			records++
		}
	}
	if records == 0 {
		t.Fatalf("README, %q: no example input block", section)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "quotes.csv"), []byte(example), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*readmeCommand{r.take(t, section, "feedpub", "-"), r.take(t, section, "feedpub", "quotes.csv")} {
		line := lineArgs(c)[0]
		check := startSub(t, ctx, l, l.Subs()[0], []string{line}, "--count", strconv.Itoa(records), "--idle", "10s")
		pubJSON := filepath.Join(dir, "pub.json")
		cmd := l.Command(ctx, l.Pub(), bin.feedpub, siteArgs(c, nil, pubJSON)...)
		cmd.Dir = dir
		if c.piped {
			cmd.Stdin = strings.NewReader(example)
		}
		if err := start(t, "feedpub@pub", cmd).wait(t, time.Minute); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if p := readPub(t, pubJSON); p.Messages != uint64(records) || p.Rejected != 0 {
			t.Errorf("%s: published %d and rejected %d, want %d and 0", c, p.Messages, p.Rejected, records)
		}
		wantComplete(t, "subscriber", check.summary(t), records)
	}
}

// readmeRecoveryMetrics runs the recovery servers on two hosts and the
// metrics subscriber as the README writes them, feeds the README's lines,
// and starts the recovery subscriber mid-stream: it takes a snapshot and
// then has every message after it, none missing; the metrics subscriber
// serves what "Metrics" greps for.
func readmeRecoveryMetrics(t *testing.T, l *lab.Lab, r *readme) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	const count, rate = 60_000, 20_000
	cache1, cache2 := l.Subs()[1], l.Subs()[0]
	hosts := map[string]string{"cache1": cache1.NICs[0].Addr.String(), "cache2": cache2.NICs[0].Addr.String()}
	cacheCmd := r.take(t, "Recovery: late joiners and long outages", "feedcache")
	recCmd := r.take(t, "Recovery: late joiners and long outages", "feedsub", "--recovery")
	metCmd := r.take(t, "Metrics", "feedsub", "--metrics")
	lines := lineArgs(recCmd)
	if len(lines) != 2 {
		t.Fatalf("README: %s: want two lines", recCmd)
	}

	var caches []*proc
	for _, h := range []lab.Host{cache1, cache2} {
		p := cacheCmd.start(t, ctx, l, h, dir, "", nil)
		p.waitJoined(t, 2)
		caches = append(caches, p)
	}
	metJSON := filepath.Join(dir, "metrics.json")
	met := &sub{json: metJSON, p: metCmd.start(t, ctx, l, cache2, dir, metJSON, nil)}
	met.p.waitJoined(t, 2)
	url := metricstest.URL(met.p.stderr())
	if url == "" {
		t.Fatalf("feedsub --metrics did not say where it serves; stderr:\n%s", met.p.stderr())
	}

	pubArgs := []string{"--rate", strconv.Itoa(rate), "--count", strconv.Itoa(count), "--warmup", "1s", "--json", filepath.Join(dir, "pub.json")}
	for _, ln := range lines {
		pubArgs = append(pubArgs, "--line", ln)
	}
	pub := start(t, "feedpub@pub", l.Command(ctx, l.Pub(), bin.feedpub, pubArgs...))
	met.p.waitFor(t, 30*time.Second, "a third of the feed", func(s string) bool { return met.received(s) >= count/3 })
	recJSON := filepath.Join(dir, "recovery.json")
	rec := &sub{json: recJSON, p: recCmd.start(t, ctx, l, cache2, dir, recJSON, hosts)}

	// What the README's curl | grep shows.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: l.DialContext(cache2)}}
	defer client.CloseIdleConnections()
	fams, err := metricstest.ScrapeWith(client, url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	if won, ok := fams.Value("feedbus_sub_line_won_total", "line", "A"); !ok || won <= 0 {
		t.Errorf("%s: feedbus_sub_line_won_total{line=\"A\"} = %v (there: %v), want > 0 during the feed", url, won, ok)
	}

	if err := pub.wait(t, time.Minute); err != nil {
		t.Fatalf("feedpub: %v", err)
	}
	interrupt(t, rec.p)
	interrupt(t, met.p)
	for _, c := range caches {
		interrupt(t, c)
	}
	if m := readSummary(t, metJSON); m.Received != count || m.Gaps != 0 || m.Pending != 0 || m.EndReason != "signal" {
		t.Errorf("metrics subscriber: received %d/%d, gaps %d, pending %d, ended by %q (want signal)", m.Received, count, m.Gaps, m.Pending, m.EndReason)
	}
	s := readSummary(t, recJSON)
	if s.Recovery == nil || s.Recovery.Snapshots == 0 || s.Recovery.SnapshotSeq == 0 {
		t.Fatalf("the subscriber that joined mid-stream took no snapshot: %+v", s.Recovery)
	}
	if want := uint64(count) - s.Recovery.SnapshotSeq; s.Received != want || s.Gaps != 0 || s.Pending != 0 {
		t.Errorf("after a snapshot at seq %d: received %d, want %d; gaps %d, pending %d",
			s.Recovery.SnapshotSeq, s.Received, want, s.Gaps, s.Pending)
	}
	t.Logf("snapshot of %d records at seq %d, then %d messages live", s.Recovery.SnapshotRecords, s.Recovery.SnapshotSeq, s.Received)
}
