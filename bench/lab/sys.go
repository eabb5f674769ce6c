package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrNotRoot: building or using a lab needs root.
	ErrNotRoot = errors.New("lab: must run as root")
	// ErrMissingTool: a required program (ip, nft, sh) is not installed;
	// the wrapping error names it and its Debian package.
	ErrMissingTool = errors.New("lab: required tool not found")
	// ErrConfig: the Config is invalid; the wrapping error says why.
	ErrConfig = errors.New("lab: invalid config")
	// ErrNotUp: Open found no (complete) lab with that name.
	ErrNotUp = errors.New("lab: not up")
	// ErrUnknownHost: the host does not belong to this lab.
	ErrUnknownHost = errors.New("lab: unknown host")
	// ErrUnknownNIC: the host has no NIC of that name.
	ErrUnknownNIC = errors.New("lab: unknown NIC")
)

// teardownTimeout bounds cleanup that must run even when the caller's
// context is already cancelled.
const teardownTimeout = 30 * time.Second

// debianPackage names the package that provides each tool we run.
var debianPackage = map[string]string{
	"ip":  "iproute2",
	"nft": "nftables",
	"sh":  "dash",
}

// tool finds a program in PATH or in the usual system directories, since
// ip and nft live in /usr/sbin, which is not always in a test's PATH.
func tool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s (install Debian package %s)", ErrMissingTool, name, debianPackage[name])
}

func checkRoot() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w (euid %d)", ErrNotRoot, os.Geteuid())
	}
	return nil
}

// Available reports whether a lab can be built here: it needs root, ip and
// sh, and network namespaces must work (it creates and deletes a probe
// namespace once per process). The error says what is missing, so tests can
// skip with a visible reason.
func Available() error { return available() }

var probeSeq atomic.Int64

var available = sync.OnceValue(func() error {
	if err := checkRoot(); err != nil {
		return err
	}
	ip, err := tool("ip")
	if err != nil {
		return err
	}
	if _, err := tool("sh"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), teardownTimeout)
	defer cancel()
	probe := fmt.Sprintf("feedlab-probe-%d-%d", os.Getpid(), probeSeq.Add(1))
	if _, err := run(ctx, "", ip, "netns", "add", probe); err != nil {
		return fmt.Errorf("lab: network namespaces do not work here: %w", err)
	}
	if _, err := run(ctx, "", ip, "netns", "delete", probe); err != nil {
		return fmt.Errorf("lab: deleting probe namespace: %w", err)
	}
	return nil
})

// run runs a program with optional stdin and returns its stdout. The error
// is one line: the command, its error and its condensed output; like all
// unexported helpers it has no "lab: " prefix, exported callers add it.
func run(ctx context.Context, stdin, path string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %w%s", cmdline(path, args), err, condense(stderr.Bytes(), stdout.Bytes()))
	}
	return stdout.Bytes(), nil
}

// cmdline renders a command for error messages.
func cmdline(path string, args []string) string {
	return strings.Join(append([]string{filepath.Base(path)}, args...), " ")
}

// condense turns command output into a short single-line suffix for errors.
func condense(outs ...[]byte) string {
	var parts []string
	for _, out := range outs {
		for _, line := range strings.Split(string(out), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				parts = append(parts, line)
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	s := strings.Join(parts, "; ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return ": " + s
}

// listNetns returns the names of all named network namespaces.
func listNetns(ctx context.Context, ip string) ([]string, error) {
	out, err := run(ctx, "", ip, "netns", "list")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0]) // "name" or "name (id: N)"
		}
	}
	return names, nil
}

// labNetns picks the namespaces of the lab called name out of all
// namespaces: name-sw, name-pub and name-subN. Names cannot contain '-', so
// this never matches another lab's namespaces. Hosts come first, the switch
// last, so teardown removes the switch after its peers.
func labNetns(all []string, name string) (hosts []string, sw string) {
	for _, ns := range all {
		rest, ok := strings.CutPrefix(ns, name+"-")
		if !ok {
			continue
		}
		switch {
		case rest == "sw":
			sw = ns
		case rest == "pub":
			hosts = append(hosts, ns)
		case strings.HasPrefix(rest, "sub"):
			if n, err := strconv.Atoi(rest[3:]); err == nil && n > 0 && strconv.Itoa(n) == rest[3:] {
				hosts = append(hosts, ns)
			}
		}
	}
	return hosts, sw
}

// teardown removes every namespace of the lab called name: it kills the
// processes still inside (otherwise the namespace, its veths and its traffic
// would outlive its name) and deletes the namespace. Missing namespaces are
// not an error.
func teardown(ctx context.Context, ip, name string) error {
	all, err := listNetns(ctx, ip)
	if err != nil {
		return err
	}
	hosts, sw := labNetns(all, name)
	if sw != "" {
		hosts = append(hosts, sw)
	}
	var first error
	for _, ns := range hosts {
		if err := deleteNetns(ctx, ip, ns); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func deleteNetns(ctx context.Context, ip, ns string) error {
	if out, err := run(ctx, "", ip, "netns", "pids", ns); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL) // may have exited meanwhile
			}
		}
	}
	if _, err := run(ctx, "", ip, "netns", "delete", ns); err != nil {
		// A concurrent Down may have deleted it first.
		if _, statErr := os.Stat(filepath.Join("/run/netns", ns)); errors.Is(statErr, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return nil
}
