package fusefs

import (
	"path"
	"strings"
	"testing"
)

// FuzzRelLink: a link's text from one device directory to another is
// relative, has no "." element, and resolves from the first to the second.
func FuzzRelLink(f *testing.F) {
	f.Add("virtual/net/eth0", "virtual/net/bond0")
	f.Add("pci0000:00/0000:00:03.0/net/eth0", "virtual/net/bond0")
	f.Add("virtual/net/bond0", "pci0000:00/0000:00:03.0/net/eth0")
	f.Add("virtual/net/bond0", "virtual/net/bond0")
	f.Fuzz(func(t *testing.T, from, to string) {
		for _, p := range []string{from, to} {
			if p == "" || p == "." || path.IsAbs(p) || path.Clean(p) != p || strings.HasPrefix(p, "..") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") || strings.ContainsRune(p, 0) {
				return
			}
		}
		got := relLink(from, to)
		if path.IsAbs(got) {
			t.Fatalf("relLink(%q, %q) = %q: absolute", from, to, got)
		}
		for _, e := range strings.Split(got, "/") {
			if e == "." {
				t.Fatalf("relLink(%q, %q) = %q: has a . element", from, to, got)
			}
		}
		if r := path.Join("/"+from, got); r != "/"+to {
			t.Fatalf("relLink(%q, %q) = %q resolves to %q", from, to, got, r)
		}
	})
}
