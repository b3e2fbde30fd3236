package fusefs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hanwen/go-fuse/v2/fuse"

	"bondingfs/bond"
)

// capNetAdmin is CAP_NET_ADMIN's bit (include/uapi/linux/capability.h).
const capNetAdmin = 12

// procRoot is where the callers' /proc/PID entries are read (tests change it).
var procRoot = "/proc"

// selfUserNS is the daemon's user namespace (its /proc/self/ns/user link).
var selfUserNS, _ = os.Readlink("/proc/self/ns/user")

// readerOf returns the credentials of the caller behind a read, as the
// kernel decides what it shows (bond_netlink.c and bond_procfs.c show the
// 802.3ad actor/partner details only to ns_capable(net->user_ns,
// CAP_NET_ADMIN)): CAP_NET_ADMIN in the caller's effective set
// (/proc/PID/status CapEff of the FUSE request's pid), in the daemon's user
// namespace. A caller that has exited, or whose pid the daemon cannot see
// (pid 0), is unprivileged.
func readerOf(ctx context.Context) bond.Caller {
	c, ok := fuse.FromContext(ctx)
	if !ok || c.Pid == 0 {
		return bond.Caller{}
	}
	return bond.Caller{NetAdmin: pidHasCap(c.Pid, capNetAdmin)}
}

// pidHasCap reports whether process pid has capability bit capBit in its
// effective set, in the daemon's user namespace.
func pidHasCap(pid uint32, capBit uint) bool {
	dir := fmt.Sprintf("%s/%d", procRoot, pid)
	if ns, err := os.Readlink(dir + "/ns/user"); err != nil || (selfUserNS != "" && ns != selfUserNS) {
		return false
	}
	f, err := os.Open(dir + "/status")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		return err == nil && caps&(1<<capBit) != 0
	}
	return false
}

// writerOf returns the credentials of the caller behind a write. The
// mount uses default_permissions, so the kernel has already checked the
// file's mode bits against the caller (root, or CAP_DAC_OVERRIDE, may
// write a 0644 file; bonding's sysfs stores check nothing more): whoever
// gets here may write.
func writerOf(ctx context.Context) bond.Caller {
	return bond.Caller{NetAdmin: true}
}
