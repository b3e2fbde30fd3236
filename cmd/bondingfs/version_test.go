package main

import (
	"runtime/debug"
	"testing"
)

// The link-time version and commit win; without them the toolchain's
// module version and VCS revision are used; without those the fallbacks.
func TestBuildVersion(t *testing.T) {
	saveV, saveC := version, commit
	defer func() { version, commit = saveV, saveC }()
	vcs := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}, {Key: "vcs.modified", Value: "true"}}}
	for _, c := range []struct {
		version, commit string
		info            *debug.BuildInfo
		wantV, wantC    string
	}{
		{"1.2.3+git4.gabc", "abcdef", vcs, "1.2.3+git4.gabc", "abcdef"},
		{"", "", vcs, unknownVersion, "0123456789abcdef0123456789abcdef01234567+dirty"},
		{"", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.0.0"}}, "v1.0.0", "unknown"},
		{"", "", nil, unknownVersion, "unknown"},
	} {
		version, commit = c.version, c.commit
		if v, cm := buildVersion(c.info); v != c.wantV || cm != c.wantC {
			t.Errorf("version %q commit %q: got %q %q, want %q %q", c.version, c.commit, v, cm, c.wantV, c.wantC)
		}
	}
}
