package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/feedbus/feedbus/bench/lab"
)

const usageText = `feedlab builds the feedbus multicast test lab: Linux network namespaces for
a publisher ("pub") and subscribers ("sub1", "sub2", ...), each with one NIC
per line (eth1 = line A, eth2 = line B, ...), connected by one bridge per line
in a separate switch namespace. Nothing is added to the root namespace; the
one host-wide change is raising net.core.rmem_max/wmem_max (see -raise-bufmax).
Needs root, iproute2 and (for drop/clear) nftables.

Usage:
  feedlab [flags] up                      build the lab (rebuilding it if it exists) and print it
  feedlab [flags] down                    kill processes in the lab and delete it
  feedlab [flags] status                  print the running lab and its drop counters
  feedlab [flags] exec HOST CMD [ARGS...] run CMD inside HOST's namespace, stdio attached;
                                          exits with CMD's exit code
  feedlab [flags] drop HOST NIC PERCENT   drop PERCENT% (0-100) of packets arriving on NIC
                                          of HOST, replacing its earlier rule (0 removes it)
  feedlab [flags] clear HOST              remove HOST's drop rules (counter is kept)

HOST is pub, sub1, sub2, ...; NIC is eth1 (line A), eth2 (line B), ...
Only up uses -subs, -lines, -net, -bufmax and -raise-bufmax; the other subcommands find the
lab by -name.

Flags (before the subcommand):
`

const usageExamples = `
Examples:
  feedlab -name fb up
  feedlab -name fb exec sub1 ip addr
  feedlab -name fb drop sub1 eth1 2
  feedlab -name fb down
`

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("feedlab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "fb", "lab name: prefix of every namespace, a lowercase letter then up to 5 letters or digits")
	subs := fs.Int("subs", lab.DefaultSubscribers, "number of subscriber hosts (up only)")
	lines := fs.Int("lines", lab.DefaultLines, "number of lines/switches (up only)")
	netOctet := fs.Int("net", lab.DefaultNet, "second address octet: addresses 10.NET.LINE.HOST, groups 239.NET.LINE.1 (up only)")
	bufMax := fs.Int("bufmax", lab.DefaultBufMax, "wanted net.core.rmem_max/wmem_max in the lab namespaces, bytes, where the kernel allows it (up only)")
	raise := fs.Bool("raise-bufmax", true, "raise the host's net.core.rmem_max/wmem_max to -bufmax when lower; on kernels where namespaces mirror them read-only this is the only way to big socket buffers (up only; never lowers)")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
		fmt.Fprint(stderr, usageExamples)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return 2
	}
	cmd, rest := rest[0], rest[1:]
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "feedlab: "+format+" (see feedlab -h)\n", a...)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "feedlab: %v\n", err)
		return 1
	}

	switch cmd {
	case "up":
		if len(rest) != 0 {
			return usageErr("up takes no arguments")
		}
		l, err := lab.Up(ctx, lab.Config{Name: *name, Subscribers: *subs, Lines: *lines, Net: *netOctet, BufMax: *bufMax, RaiseHostBufMax: *raise})
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "lab %s is up (rmem_max/wmem_max %d)\n", *name, l.BufMax())
		if l.BufMax() < l.Config().BufMax {
			fmt.Fprintf(stdout, "note: wanted %d; this kernel keeps rmem_max/wmem_max read-only in namespaces,\n"+
				"      so the host's limits apply (feedlab never changes the host)\n", l.Config().BufMax)
		}
		fmt.Fprintln(stdout)
		printLab(stdout, l, nil)
		return 0

	case "down":
		if len(rest) != 0 {
			return usageErr("down takes no arguments")
		}
		if err := lab.Remove(ctx, *name); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "lab %s is down\n", *name)
		return 0

	case "status":
		if len(rest) != 0 {
			return usageErr("status takes no arguments")
		}
		l, err := lab.Open(ctx, *name)
		if err != nil {
			return fail(err)
		}
		drops := make(map[string]string)
		for _, h := range l.Hosts() {
			n, err := l.Dropped(ctx, h)
			if err != nil {
				drops[h.Name] = "?"
				fmt.Fprintf(stderr, "feedlab: %v\n", err)
				continue
			}
			drops[h.Name] = strconv.FormatUint(n, 10)
		}
		fmt.Fprintf(stdout, "lab %s is up (rmem_max/wmem_max %d)\n\n", *name, l.BufMax())
		printLab(stdout, l, drops)
		return 0

	case "exec":
		if len(rest) < 2 {
			return usageErr("exec needs HOST and CMD")
		}
		l, h, code := openHost(ctx, *name, rest[0], stderr)
		if l == nil {
			return code
		}
		c := l.Command(ctx, h, rest[1], rest[2:]...)
		c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
		// On SIGINT/SIGTERM pass SIGTERM on and give CMD time to exit.
		c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
		c.WaitDelay = 5 * time.Second
		err := c.Run()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return exitErr.ExitCode()
		}
		if err != nil {
			return fail(err)
		}
		return 0

	case "drop":
		if len(rest) != 3 {
			return usageErr("drop needs HOST NIC PERCENT")
		}
		pct, err := strconv.Atoi(strings.TrimSuffix(rest[2], "%"))
		if err != nil || pct < 0 || pct > 100 {
			return usageErr("PERCENT must be an integer 0..100, not %q", rest[2])
		}
		l, h, code := openHost(ctx, *name, rest[0], stderr)
		if l == nil {
			return code
		}
		if err := l.DropRandom(ctx, h, rest[1], pct); err != nil {
			return fail(err)
		}
		if pct == 0 {
			fmt.Fprintf(stdout, "%s: no longer dropping packets arriving on %s\n", h.Name, rest[1])
		} else {
			fmt.Fprintf(stdout, "%s: dropping %d%% of packets arriving on %s\n", h.Name, pct, rest[1])
		}
		return 0

	case "clear":
		if len(rest) != 1 {
			return usageErr("clear needs HOST")
		}
		l, h, code := openHost(ctx, *name, rest[0], stderr)
		if l == nil {
			return code
		}
		if err := l.ClearDrops(ctx, h); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "%s: drop rules removed\n", h.Name)
		return 0

	default:
		return usageErr("unknown subcommand %q", cmd)
	}
}

// openHost attaches to the lab and looks up a host. On failure it reports
// the error and returns a nil Lab and the exit code.
func openHost(ctx context.Context, name, host string, stderr io.Writer) (*lab.Lab, lab.Host, int) {
	l, err := lab.Open(ctx, name)
	if err != nil {
		fmt.Fprintf(stderr, "feedlab: %v\n", err)
		return nil, lab.Host{}, 1
	}
	h, ok := l.Host(host)
	if !ok {
		var names []string
		for _, h := range l.Hosts() {
			names = append(names, h.Name)
		}
		fmt.Fprintf(stderr, "feedlab: lab %s has no host %q (hosts: %s)\n", name, host, strings.Join(names, ", "))
		return nil, lab.Host{}, 1
	}
	return l, h, 0
}

// printLab prints hosts, groups and endpoints as tables. drops, if not nil,
// adds a column with each host's dropped-packet counter.
func printLab(w io.Writer, l *lab.Lab, drops map[string]string) {
	cfg := l.Config()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "HOST\tNAMESPACE\tNIC\tLINE\tADDRESS"
	if drops != nil {
		header += "\tDROPPED"
	}
	fmt.Fprintln(tw, header)
	for _, h := range l.Hosts() {
		for i, nic := range h.NICs {
			row := fmt.Sprintf("%s\t%s\t%s\t%s\t%s/24", h.Name, h.Netns, nic.Name, lab.LineName(nic.Line), nic.Addr)
			if i > 0 {
				row = fmt.Sprintf("\t\t%s\t%s\t%s/24", nic.Name, lab.LineName(nic.Line), nic.Addr)
			}
			if drops != nil {
				if i == 0 {
					row += "\t" + drops[h.Name]
				} else {
					row += "\t"
				}
			}
			fmt.Fprintln(tw, row)
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "LINE\tSWITCH\tGROUP")
	for line := range cfg.Lines {
		fmt.Fprintf(tw, "%s\t%s br%d\t%s\n", lab.LineName(line), l.SwitchNetns(), line, l.Group(line))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "HOST\tLINE\tENDPOINT (epgm; use pgm:// for raw PGM)")
	for _, h := range l.Hosts() {
		for line := range cfg.Lines {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", h.Name, lab.LineName(line), l.Endpoint("epgm", h, line))
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun a program in a host:  feedlab -name %s exec sub1 ip addr\n", cfg.Name)
	fmt.Fprintf(w, "Tear down:                feedlab -name %s down\n", cfg.Name)
}
