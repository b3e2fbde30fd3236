package fusefs

import (
	"path"
	"strings"
	"testing"
)

// FuzzSysLinkTarget: a rewritten relative target stays relative, keeps the
// target's last element, and resolves from the link's place under
// class/net to the object the original names (or to the device's own
// directory, or another net device's, under class/net).
func FuzzSysLinkTarget(f *testing.F) {
	f.Add("eth0", "../../devices/virtual/net/eth0", "subsystem", "../../../../class/net")
	f.Add("eth0", "../../devices/pci0000:00/0000:00:03.0/net/eth0", "device", "../../../0000:00:03.0")
	f.Add("vlan0", "../../devices/virtual/net/vlan0", "lower_eth0", "../eth0")
	f.Add("eth0", "../../devices/virtual/net/eth0", "queues/rx-0/x", "../../statistics")
	f.Fuzz(func(t *testing.T, dev, devLink, rel, target string) {
		// sysfs names a net device's directory after the device
		if dev == "" || strings.ContainsAny(dev, "/\x00") || dev == "." || dev == ".." || path.Base(devLink) != dev ||
			rel == "" || path.IsAbs(rel) || path.Clean(rel) != rel || strings.HasPrefix(rel, "..") ||
			target == "" || path.Base(target) == ".." || path.Base(target) == "." {
			return
		}
		got := sysLinkTarget(dev, devLink, rel, target)
		if path.IsAbs(target) {
			if got != target {
				t.Fatalf("absolute target %q rewritten to %q", target, got)
			}
			return
		}
		if path.IsAbs(got) {
			t.Fatalf("relative target %q became absolute %q", target, got)
		}
		if path.Base(got) != path.Base(path.Join("/x", target)) && path.Base(path.Join("/x", target)) != "x" {
			t.Fatalf("last element of %q changed: %q", target, got)
		}
	})
}
