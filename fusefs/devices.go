package fusefs

import (
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"bondingfs/bond"
)

// The device tree. As in the kernel's sysfs, sys/class/net/<dev> is a
// symlink whose text is the real one ("../../devices/virtual/net/bond0",
// "../../devices/pci0000:00/0000:00:03.0/net/eth0"), and the device's
// directory lives where it leads: sys/devices/<parent>/<dev>, <parent> being
// "virtual/net" for every virtual device (a bond's TAP, a veth, a bridge)
// and the hardware device's net directory for a NIC. sys/devices holds only
// the directories on the way to the namespace's net devices (kindDevTree) and
// the net directories themselves (kindNetDir), which list the devices the
// real sysfs has there plus, in virtual/net, every bond and slave of the
// snapshot that the real sysfs lacks.
//
// Every link of a device directory is then the kernel's own text: the real
// ones (subsystem, device, a bridge's master and lower_ links) pass through
// unchanged, and the bonding driver's master, upper_ and lower_ links are
// computed as kernfs computes a link's text: the path from the link's
// directory to its target's (adjacentTarget).

// virtualNet is the parent of every virtual device's directory, below
// sys/devices.
const virtualNet = "virtual/net"

// realLink returns the text of the real class/net/<dev> link, or "" when
// the real sysfs has no such device (or no passthrough is configured).
func (f *filesystem) realLink(dev string) string {
	if f.sysfs == "" || !validName(dev) {
		return ""
	}
	t, err := os.Readlink(f.realNet() + "/" + dev)
	if err != nil || !strings.HasPrefix(t, "../../devices/") || path.Base(t) != dev {
		return ""
	}
	return t
}

// validName reports whether name can be a directory entry of ours.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

// devParent returns the directory below sys/devices that holds device dev's
// directory, as the real class/net link says ("virtual/net" for a device
// the real sysfs lacks).
func (f *filesystem) devParent(dev string) string {
	if t := f.realLink(dev); t != "" {
		return path.Dir(strings.TrimPrefix(t, "../../devices/"))
	}
	return virtualNet
}

// devLinkTarget returns the text of sys/class/net/<dev>: the real link's, or
// "../../devices/virtual/net/<dev>" for a bond or slave the real sysfs lacks.
func (f *filesystem) devLinkTarget(dev string) string {
	if t := f.realLink(dev); t != "" {
		return t
	}
	return "../../devices/" + virtualNet + "/" + dev
}

// adjacentTarget returns the text of a link in device from's directory to
// device to's directory, as sysfs_create_link writes it (kernfs_get_target_path:
// up to the common ancestor, then down): "../bond0" between two virtual
// devices, "../../../../virtual/net/bond0" from a NIC's directory.
func (f *filesystem) adjacentTarget(from, to string) string {
	return relLink(f.devParent(from)+"/"+from, f.devParent(to)+"/"+to)
}

// relLink returns the relative path from directory from to to, both
// clean slash-separated paths below one root: ".." for every element of
// from past the longest common prefix, then the rest of to.
func relLink(from, to string) string {
	a := strings.Split(from, "/")
	b := strings.Split(to, "/")
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	parts := make([]string, 0, len(a)-i+len(b)-i)
	for range a[i:] {
		parts = append(parts, "..")
	}
	return strings.Join(append(parts, b[i:]...), "/")
}

// devParents returns every directory below sys/devices that holds a device
// of the namespace (or of snap), virtual/net always.
func (f *filesystem) devParents() map[string]bool {
	ps := map[string]bool{virtualNet: true}
	for _, d := range f.realDevs() {
		ps[f.devParent(d)] = true
	}
	return ps
}

// devicesPath returns the path of directory n below sys/devices ("" for
// sys/devices itself).
func (n *node) devicesPath() string {
	return strings.TrimPrefix(strings.TrimPrefix(n.path, "sys/devices"), "/")
}

// realDir returns the real directory of device directory n (kindDev), in
// the private sysfs.
func (n *node) realDir() string {
	return n.fsys.sysfs + "/" + strings.TrimPrefix(n.path, "sys/")
}

// realExists reports whether the real sysfs has device directory n at its
// place.
func (n *node) realExists() bool {
	if n.fsys.sysfs == "" {
		return false
	}
	var st syscall.Stat_t
	return syscall.Lstat(n.realDir(), &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFDIR
}

// devTreeChildren: sys/devices and the directories below it on the way to a
// net directory hold the next element of each such way.
func devTreeChildren(n *node, _ *bond.Snapshot) ([]entry, bool) {
	p := n.devicesPath()
	parents := n.fsys.devParents()
	seen := map[string]bool{}
	var es []entry
	for q := range parents {
		rest := q
		if p != "" {
			if !strings.HasPrefix(q, p+"/") {
				continue
			}
			rest = q[len(p)+1:]
		}
		c, _, _ := strings.Cut(rest, "/")
		if seen[c] {
			continue
		}
		seen[c] = true
		k, full := kindDevTree, c
		if p != "" {
			full = p + "/" + c
		}
		if parents[full] {
			k = kindNetDir
		}
		es = append(es, entry{name: c, kind: k})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].name < es[j].name })
	return es, true
}

// netDirChildren: a net directory holds the devices the real sysfs has
// there and, in virtual/net, the bonds and slaves it lacks. It is gone when
// it no longer holds any.
func netDirChildren(n *node, snap *bond.Snapshot) ([]entry, bool) {
	p := n.devicesPath()
	var es []entry
	seen := map[string]bool{}
	if n.fsys.sysfs != "" {
		des, err := os.ReadDir(n.fsys.sysfs + "/devices/" + p)
		if err != nil && p != virtualNet {
			return nil, false
		}
		for _, d := range des {
			if !d.IsDir() {
				continue
			}
			seen[d.Name()] = true
			var id uint64
			if info, err := d.Info(); err == nil {
				if st, ok := info.Sys().(*syscall.Stat_t); ok {
					id = st.Ino
				}
			}
			es = append(es, entry{name: d.Name(), kind: kindDev, dev: d.Name(), ino: devIno(n.path+"/"+d.Name(), id)})
		}
	}
	if p == virtualNet {
		add := func(name string, index int) {
			if !seen[name] && n.fsys.realLink(name) == "" {
				seen[name] = true
				es = append(es, entry{name: name, kind: kindDev, dev: name, ino: devIno(n.path+"/"+name, uint64(index))})
			}
		}
		for _, b := range snap.Bonds {
			add(b.Name, b.Index)
		}
		for _, b := range snap.Bonds {
			for i := range b.Slaves {
				add(b.Slaves[i].Name, b.Slaves[i].Index)
			}
		}
	}
	return es, true
}

// netDirLookup asks the real sysfs about name alone.
func netDirLookup(n *node, snap *bond.Snapshot, name string) ([]entry, bool) {
	if !validName(name) {
		return nil, true
	}
	p := n.devicesPath()
	if n.fsys.sysfs != "" {
		var st syscall.Stat_t
		if syscall.Lstat(n.fsys.sysfs+"/devices/"+p+"/"+name, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
			return []entry{{name: name, kind: kindDev, dev: name, ino: devIno(n.path+"/"+name, st.Ino)}}, true
		}
	}
	if p != virtualNet {
		return nil, true
	}
	index := -1
	if b := snap.Bond(name); b != nil {
		index = b.Index
	} else if _, s := snap.Slave(name); s != nil {
		index = s.Index
	}
	if index >= 0 && n.fsys.realLink(name) == "" {
		return []entry{{name: name, kind: kindDev, dev: name, ino: devIno(n.path+"/"+name, uint64(index))}}, true
	}
	return nil, true
}

// devIno is the inode number of the device directory at path whose device
// is id (the real directory's inode number, which sysfs never reuses for a
// new device, or the ifindex of a device only the snapshot has): a device
// that replaces another of the same name gets a new number, and the kernel
// then drops what it cached below the old one (stableEntry).
func devIno(path string, id uint64) uint64 {
	return inoOf(path + "\x00" + strconv.FormatUint(id, 10))
}

// linkIno is the inode number of the link at path with text target: a link
// whose text changes gets a new number, so that the kernel's cached text
// (EnableSymlinkCaching) is never read for the new one.
func linkIno(path, target string) uint64 {
	return inoOf(path + "\x00" + target)
}

// devLinkTargetOf is kindDevLink's target: sys/class/net/<dev> while the
// device is real, a bond or a slave.
func devLinkTargetOf(n *node, snap *bond.Snapshot) (string, bool) {
	if t := n.fsys.realLink(n.dev); t != "" {
		return t, true
	}
	b := snap.Bond(n.dev)
	m, _ := snap.Slave(n.dev)
	if b == nil && m == nil {
		return "", false
	}
	return n.fsys.devLinkTarget(n.dev), true
}
