package main

import (
	"fmt"
	"runtime/debug"

	"bondingfs/fusefs"
)

// version and commit are set at link time by `make build` and `make
// package`: go build -ldflags "-X main.version=V -X main.commit=C", with V
// from scripts/version.sh (git describe, else the VERSION file, else
// 0.0.0+unknown) and C the full git commit hash.
var (
	version string
	commit  string
)

// unknownVersion is the version of a build that was given none and has no
// module version either (a plain `go build` outside make).
const unknownVersion = "0.0.0+unknown"

// buildVersion returns the program's version and commit: the link-time
// values when set, else what the Go toolchain recorded (the main module's
// version; vcs.revision, with "+dirty" for a modified tree), else
// unknownVersion and "unknown". info is debug.ReadBuildInfo's result (nil
// when there is none).
func buildVersion(info *debug.BuildInfo) (v, c string) {
	v, c = version, commit
	if info != nil {
		if v == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		if c == "" {
			dirty := false
			for _, s := range info.Settings {
				switch s.Key {
				case "vcs.revision":
					c = s.Value
				case "vcs.modified":
					dirty = s.Value == "true"
				}
			}
			if c != "" && dirty {
				c += "+dirty"
			}
		}
	}
	if v == "" {
		v = unknownVersion
	}
	if c == "" {
		c = "unknown"
	}
	return v, c
}

// versionText is what `bondingfs version` and `bondingfs --version` print:
// the program's version and the commit it was built from, then the bonding
// driver whose interface it emulates as `modinfo bonding` shows it: its
// description and the release (fusefs.DriverVersion, the version the first
// line of /proc/net/bonding/<bond> reports: "Ethernet Channel Bonding
// Driver: v" + release).
func versionText() string {
	info, _ := debug.ReadBuildInfo()
	v, c := buildVersion(info)
	return fmt.Sprintf("bondingfs %s (commit %s)\n%-16s%s\n%-16s%s\n", v, c,
		"description:", "Ethernet Channel Bonding Driver", "vermagic:", fusefs.DriverVersion)
}
