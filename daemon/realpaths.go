package daemon

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
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
// Both mounts are recognisable in mountinfo (fstype fuse.bondingfs; tmpfs
// with source "bondingfs"), so that a reaper can remove them after the
// daemon died.

const (
	sysClassNet = "/sys/class/net"
	procNet     = "/proc/net"
	// procNetSource names the tmpfs that holds the /proc/net symlink.
	procNetSource = "bondingfs"
	fuseType      = "fuse.bondingfs"
)

// installRealPaths mounts ROOT's sys/class/net over /sys/class/net and a
// symlink to ROOT/proc/self/net over /proc/net in the calling thread's mount
// namespace. On failure nothing stays mounted.
func installRealPaths(root string) error {
	removeStaleRealPaths()
	if err := unix.Mount(filepath.Join(root, "sys/class/net"), sysClassNet, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s/sys/class/net over %s: %w", root, sysClassNet, err)
	}
	if err := mountProcNetLink(filepath.Join(root, "proc/self/net")); err != nil {
		_ = unix.Unmount(sysClassNet, unix.MNT_DETACH)
		return err
	}
	return nil
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
	switch m.point {
	case sysClassNet:
		return m.fstype == fuseType && (rootDev == "" || m.dev == rootDev)
	case procNet:
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
	for range 16 {
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
			if (m.point != procNet && m.point != sysClassNet) || seen[m.point] {
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

// removeStaleRealPaths unmounts real-path mounts whose daemon is gone (its
// FUSE connection aborted, or its tree unmounted) and that no reaper
// removed, the topmost first, so that new ones do not stack on a dead mount.
// Live ones (another daemon's) stay.
func removeStaleRealPaths() {
	for range 16 {
		ms, err := mounts()
		if err != nil {
			return
		}
		var victim string
		seen := map[string]bool{}
		for i := len(ms) - 1; i >= 0 && victim == ""; i-- {
			m := ms[i]
			if (m.point != procNet && m.point != sysClassNet) || seen[m.point] {
				continue
			}
			seen[m.point] = true
			var st unix.Statfs_t
			switch {
			case m.point == sysClassNet && m.fstype == fuseType:
				if unix.Statfs(sysClassNet, &st) != nil {
					victim = m.point
				}
			case m.point == procNet && m.fstype == "tmpfs" && m.source == procNetSource:
				if t, err := os.Readlink(procNet); err == nil {
					if unix.Statfs(t, &st) != nil || st.Type != unix.FUSE_SUPER_MAGIC {
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
