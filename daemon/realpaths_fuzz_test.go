package daemon

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// escapeMount escapes s as the kernel's mountinfo does (show_mountinfo's
// mangle: space, tab, newline and backslash as \ooo).
func escapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\\':
			fmt.Fprintf(&b, `\%03o`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// FuzzUnescapeMount: every mount point mountinfo can print reads back as it
// was.
func FuzzUnescapeMount(f *testing.F) {
	f.Add("/run/bondingfs")
	f.Add("/tmp/a b\\c")
	f.Add("/x\t\n")
	f.Fuzz(func(t *testing.T, s string) {
		if got := unescapeMount(escapeMount(s)); got != s {
			t.Fatalf("unescapeMount(escapeMount(%q)) = %q", s, got)
		}
		_ = unescapeMount(s) // never panics on raw input
	})
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/run/a\040b`: "/run/a b",
		`/plain`:      "/plain",
		`/x\134y`:     `/x\y`,
		`/trail\04`:   `/trail\04`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzDeviceDirOf: a class/net link's text yields a parent directory only
// when the link leads below /sys/devices, and the parent stays there.
func FuzzDeviceDirOf(f *testing.F) {
	f.Add("../../devices/virtual/net/eth0", "eth0")
	f.Add("../../devices/pci0000:00/0000:00:03.0/net/eth0", "eth0")
	f.Add("../../devices/../../etc/eth0", "eth0")
	f.Add("../../devices/eth0", "eth0")
	f.Fuzz(func(t *testing.T, link, dev string) {
		d, ok := deviceDirOf(link, dev)
		if !ok {
			return
		}
		p := filepath.Join("/sys/devices", d)
		if !strings.HasPrefix(p, "/sys/devices/") || filepath.IsAbs(d) || filepath.Clean(d) != d {
			t.Fatalf("deviceDirOf(%q, %q) = %q: leads to %s", link, dev, d, p)
		}
		if filepath.Join(p, dev) != filepath.Join("/sys/class/net", link) {
			t.Fatalf("deviceDirOf(%q, %q) = %q: not where the link leads", link, dev, d)
		}
	})
}
