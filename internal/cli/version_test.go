package cli

import (
	"runtime/debug"
	"testing"
)

func TestFormatVersion(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"clean checkout", debug.BuildInfo{
			GoVersion: "go1.26.8",
			Main:      debug.Module{Path: "github.com/feedbus/feedbus", Version: "(devel)"},
			Settings:  vcs("vcs", "git", "vcs.revision", "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", "vcs.time", "2026-12-01T10:00:00Z", "vcs.modified", "false"),
		}, "feedpub (devel) 1a2b3c4d5e6f 2026-12-01T10:00:00Z go1.26.8"},
		{"dirty tree", debug.BuildInfo{
			GoVersion: "go1.26.8",
			Main:      debug.Module{Version: "v0.0.0-20261201100000-1a2b3c4d5e6f+dirty"},
			Settings:  vcs("vcs.revision", "1a2b3c4d5e6f7a8b", "vcs.time", "2026-12-01T10:00:00Z", "vcs.modified", "true"),
		}, "feedpub v0.0.0-20261201100000-1a2b3c4d5e6f+dirty 1a2b3c4d5e6f+dirty 2026-12-01T10:00:00Z go1.26.8"},
		{"released module", debug.BuildInfo{
			GoVersion: "go1.26.8",
			Main:      debug.Module{Version: "v1.2.3"},
		}, "feedpub v1.2.3 go1.26.8"},
		{"no vcs, no version", debug.BuildInfo{GoVersion: "go1.26.8"}, "feedpub (devel) go1.26.8"},
		{"short revision", debug.BuildInfo{GoVersion: "go1.26.8", Settings: vcs("vcs.revision", "abc")}, "feedpub (devel) abc go1.26.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatVersion("feedpub", &tt.bi); got != tt.want {
				t.Errorf("formatVersion = %q\nwant            %q", got, tt.want)
			}
		})
	}
}
