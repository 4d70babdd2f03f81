package main

import (
	"runtime/debug"
	"testing"
)

func TestDescribeBuild(t *testing.T) {
	vcs := &debug.BuildInfo{Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "3008f5a1b2c3d4e5f60718293a4b5c6d7e8f9012"},
		{Key: "vcs.time", Value: "2026-11-29T11:55:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	for _, c := range []struct {
		release string
		info    *debug.BuildInfo
		want    string
	}{
		{"", vcs, "3008f5a1b2c3-dirty 2026-11-29T11:55:00Z"},
		{"v1.2.3", vcs, "v1.2.3 3008f5a1b2c3-dirty 2026-11-29T11:55:00Z"},
		{"v1.2.3", &debug.BuildInfo{}, "v1.2.3"},
	} {
		if got := describeBuild(c.release, c.info); got != c.want {
			t.Errorf("describeBuild(%q) = %q; want %q", c.release, got, c.want)
		}
	}
	if got := describeBuild("", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}); got != unknownBuild {
		t.Errorf("no VCS: %q", got)
	}
}
