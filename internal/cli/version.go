package cli

import (
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
)

// ErrVersion is what Parse returns for --version; Main then prints the
// version to stdout and exits 0, as it does for flag.ErrHelp.
var ErrVersion = errors.New("version requested")

// Version describes the running binary from the build information Go
// stamps into it: the program, the main module's version, the VCS revision
// (short, with "+dirty" when the tree had changes) and commit time when
// the build recorded them, and the Go version, e.g.
//
//	feedpub (devel) 1a2b3c4d5e6f+dirty 2026-12-01T10:00:00Z go1.26.8
func Version(prog string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return prog + " (unknown) " + runtime.Version()
	}
	return formatVersion(prog, bi)
}

// formatVersion is Version for the given build information.
func formatVersion(prog string, bi *debug.BuildInfo) string {
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	fields := []string{prog, bi.Main.Version}
	if fields[1] == "" {
		fields[1] = "(devel)"
	}
	if rev := settings["vcs.revision"]; rev != "" {
		rev = rev[:min(len(rev), 12)]
		if settings["vcs.modified"] == "true" {
			rev += "+dirty"
		}
		fields = append(fields, rev)
	}
	if t := settings["vcs.time"]; t != "" {
		fields = append(fields, t)
	}
	goVersion := bi.GoVersion
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	return strings.Join(append(fields, goVersion), " ")
}
