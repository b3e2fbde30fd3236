package daemon

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The real paths: /sys/class/net and /proc/net of one mount namespace made
// the emulation's.
//
//   - /sys/class/net: a bind mount of ROOT/sys/class/net (a directory over a
//     directory).
//   - /proc/net: a symlink to self/net, resolved per process, so a bind
//     mount on it would follow the link and land on the mounter's own
//     /proc/<pid>/net. Instead a symlink to ROOT/proc/self/net is mounted over the
//     symlink itself: open_tree(OPEN_TREE_CLONE|AT_SYMLINK_NOFOLLOW) of a
//     symlink made on a private tmpfs, then move_mount onto /proc/net
//     (which move_mount does not follow). Every process of the namespace,
//     including later ones, then resolves /proc/net to ROOT/proc/self/net,
//     which serves each caller its own /proc/<tid>/net plus bonding/ (with
//     the bonds for callers in the engine's network namespace).
//
//   - /sys/devices/virtual/net and each NIC's net directory: bind mounts of
//     the tree's, where the /sys/class/net links (the kernel's text,
//     "../../devices/virtual/net/eth0") lead, so that readlink -f, pwd -P
//     and every walk through them land in the emulation's device
//     directories with their bonding entries.
//
// The mounts are recognisable in mountinfo (fstype fuse.bondingfs; tmpfs
// with source "bondingfs"), so that a reaper can remove them after the
// daemon died.

const (
	sysClassNet = "/sys/class/net"
	sysDevices  = "/sys/devices"
	procNet     = "/proc/net"
	// procNetSource names the tmpfs that holds the /proc/net symlink.
	procNetSource = "bondingfs"
	fuseType      = "fuse.bondingfs"
)

// installRealPaths mounts ROOT's sys/class/net over /sys/class/net, each of
// ROOT's device directories' parents over the same directory below
// /sys/devices (deviceDirs), and a symlink to ROOT/proc/self/net over
// /proc/net in the calling thread's mount namespace. Stale ones (their
// daemon gone, or a link to this ROOT that a killed daemon and reaper left)
// are removed first. On failure nothing stays mounted.
func installRealPaths(root string) error {
	removeStaleRealPaths(root)
	var done []string
	undo := func() {
		for i := len(done) - 1; i >= 0; i-- {
			_ = unix.Unmount(done[i], unix.MNT_DETACH)
		}
	}
	if err := unix.Mount(filepath.Join(root, "sys/class/net"), sysClassNet, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s/sys/class/net over %s: %w", root, sysClassNet, err)
	}
	done = append(done, sysClassNet)
	for _, d := range deviceDirs(root) {
		target := filepath.Join(sysDevices, d)
		if st, err := os.Stat(target); err != nil || !st.IsDir() {
			continue // this /sys has no such directory: nothing leads there
		}
		if err := unix.Mount(filepath.Join(root, "sys/devices", d), target, "", unix.MS_BIND, ""); err != nil {
			undo()
			return fmt.Errorf("bind %s/sys/devices/%s over %s: %w", root, d, target, err)
		}
		done = append(done, target)
	}
	if err := mountProcNetLink(filepath.Join(root, "proc/self/net")); err != nil {
		undo()
		return err
	}
	return nil
}

// deviceDirs returns the directories below ROOT/sys/devices that hold the
// device directories the links of ROOT/sys/class/net lead to
// ("virtual/net", a NIC's "pci0000:00/0000:00:03.0/net"), sorted, so that
// the kernel's own paths to them lead into the emulation. A NIC that
// appears later has its directory in the tree, not at the real path.
func deviceDirs(root string) []string {
	net := filepath.Join(root, "sys/class/net")
	es, err := os.ReadDir(net)
	if err != nil {
		return []string{"virtual/net"}
	}
	seen := map[string]bool{"virtual/net": true}
	for _, e := range es {
		t, err := os.Readlink(filepath.Join(net, e.Name()))
		if d, ok := deviceDirOf(t, e.Name()); err == nil && ok {
			seen[d] = true
		}
	}
	ds := make([]string, 0, len(seen))
	for d := range seen {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	return ds
}

// deviceDirOf returns the parent below /sys/devices of the device
// directory that the class/net link of dev with text t leads to, false
// when t is not such a link ("../../devices/<parent>/<dev>", no ".."
// inside).
func deviceDirOf(t, dev string) (string, bool) {
	rest, ok := strings.CutPrefix(t, "../../devices/")
	if !ok || filepath.IsAbs(rest) || filepath.Base(rest) != dev || filepath.Clean(rest) != rest {
		return "", false
	}
	d := filepath.Dir(rest)
	if d == "." || strings.HasPrefix(d, "..") || strings.Contains(d, "/../") {
		return "", false
	}
	return d, true
}

// mountProcNetLink mounts a symlink to target over /proc/net.
func mountProcNetLink(target string) error {
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen tmpfs: %w", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigSetString(fsfd, "source", procNetSource); err != nil {
		return fmt.Errorf("fsconfig tmpfs source: %w", err)
	}
	if err := unix.FsconfigSetString(fsfd, "size", "4k"); err != nil {
		return fmt.Errorf("fsconfig tmpfs size: %w", err)
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("fsconfig create tmpfs: %w", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return fmt.Errorf("fsmount tmpfs: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.Symlinkat(target, mfd, "net"); err != nil {
		return fmt.Errorf("symlink %s: %w", target, err)
	}
	tfd, err := unix.OpenTree(mfd, "net", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return fmt.Errorf("open_tree of the /proc/net symlink: %w", err)
	}
	defer unix.Close(tfd)
	if err := unix.MoveMount(tfd, "", unix.AT_FDCWD, procNet, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount over %s: %w", procNet, err)
	}
	return nil
}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	dev, point, fstype, source string // dev is major:minor
}

// mounts returns the calling thread's mount table, in mount order.
func mounts() ([]mountEntry, error) {
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []mountEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, fl := range fields {
			if fl == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || len(fields) < sep+3 {
			continue
		}
		ms = append(ms, mountEntry{dev: fields[2], point: unescapeMount(fields[4]), fstype: fields[sep+1], source: unescapeMount(fields[sep+2])})
	}
	return ms, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ours reports whether m is a real-path mount of the tree mounted at root
// whose device is rootDev ("" when unknown: any bondingfs tree).
func ours(m mountEntry, root, rootDev string) bool {
	switch {
	case m.point == sysClassNet || strings.HasPrefix(m.point, sysDevices+"/"):
		return m.fstype == fuseType && (rootDev == "" || m.dev == rootDev)
	case m.point == procNet:
		if m.fstype != "tmpfs" || m.source != procNetSource {
			return false
		}
		t, err := os.Readlink(procNet) // the topmost link: the one to remove
		return err == nil && t == filepath.Join(root, "proc/self/net")
	}
	return false
}

// removeRealPaths unmounts (lazily) the real-path mounts of the tree at
// root in the calling thread's mount namespace, the topmost first, and
// leaves other mounts on those paths alone (another daemon's, an
// administrator's). It returns how many it removed.
func removeRealPaths(root string) int {
	removed := 0
	for range 64 {
		ms, err := mounts()
		if err != nil {
			return removed
		}
		rootDev := ""
		for _, m := range ms {
			if m.point == root && m.fstype == fuseType {
				rootDev = m.dev
			}
		}
		// the topmost mount on each path is the last listed; only that
		// one can be unmounted by path
		var victim *mountEntry
		seen := map[string]bool{}
		for i := len(ms) - 1; i >= 0 && victim == nil; i-- {
			m := ms[i]
			if !realPoint(m.point) || seen[m.point] {
				continue
			}
			seen[m.point] = true
			if ours(m, root, rootDev) {
				victim = &ms[i]
			}
		}
		if victim == nil {
			return removed
		}
		// UMOUNT_NOFOLLOW: /proc/net is the mounted symlink itself
		if err := unix.Unmount(victim.point, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil {
			return removed
		}
		removed++
	}
	return removed
}

// realPoint reports whether p is where real paths get mounted.
func realPoint(p string) bool {
	return p == sysClassNet || p == procNet || strings.HasPrefix(p, sysDevices+"/")
}

// removeStaleRealPaths unmounts real-path mounts whose daemon is gone (its
// FUSE connection aborted, or its tree unmounted) and that no reaper
// removed, the topmost first, so that new ones do not stack on a dead mount.
// A /proc/net link to ROOT/proc/self/net is stale too whatever serves ROOT
// now: a daemon and its reaper killed together leave it, and the next
// daemon for ROOT mounts ROOT again before it installs its own. Live ones
// (another daemon's) stay.
func removeStaleRealPaths(root string) {
	for range 64 {
		ms, err := mounts()
		if err != nil {
			return
		}
		var victim string
		seen := map[string]bool{}
		for i := len(ms) - 1; i >= 0 && victim == ""; i-- {
			m := ms[i]
			if !realPoint(m.point) || seen[m.point] {
				continue
			}
			seen[m.point] = true
			var st unix.Statfs_t
			switch {
			case m.point != procNet && m.fstype == fuseType:
				if unix.Statfs(m.point, &st) != nil {
					victim = m.point
				}
			case m.point == procNet && m.fstype == "tmpfs" && m.source == procNetSource:
				if t, err := os.Readlink(procNet); err == nil {
					if t == filepath.Join(root, "proc/self/net") || unix.Statfs(t, &st) != nil || st.Type != unix.FUSE_SUPER_MAGIC {
						victim = m.point
					}
				}
			}
		}
		if victim == "" || unix.Unmount(victim, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW) != nil {
			return
		}
	}
}

// servedBy reports whether dir is a live bondingfs mount in the calling
// thread's mount namespace.
func servedBy(dir string) bool {
	ms, err := mounts()
	if err != nil {
		return false
	}
	found := false
	for _, m := range ms {
		if m.point == dir {
			found = m.fstype == fuseType
		}
	}
	if !found {
		return false
	}
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return false // ENOTCONN: the daemon is gone
	}
	// sys/class/net, not bonding_masters: a daemon started --unloaded has
	// none until `bondingfs modprobe`.
	_, err = os.Stat(filepath.Join(dir, "sys/class/net"))
	return err == nil
}
