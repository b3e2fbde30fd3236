package fusefs

import (
	"context"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"

	"bondingfs/bond"
)

// Symlinks: class/net/<dev> (devices.go), a bond's lower_<slave> and a
// slave's master and upper_<bond> (kindInfo.target), as the netdev_adjacent
// links of dev.c show them: the path from one device's directory to the
// other's (adjacentTarget).

var _ fs.NodeReadlinker = (*node)(nil)

// Readlink returns the link's text (kindInfo.target);
// EINVAL for a node that is not a link, ENOENT for a link that is gone.
func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	if n.info().target == nil {
		return nil, syscall.EINVAL
	}
	t, ok := n.info().target(n, n.fsys.snapshot())
	if !ok {
		return nil, syscall.ENOENT
	}
	return []byte(t), 0
}

// linkSize is a link's st_size: the length of its target, 0 when it is
// gone.
func linkSize(n *node, snap *bond.Snapshot) uint64 {
	t, _ := n.info().target(n, snap)
	return uint64(len(t))
}

// lowerTarget: bond n.dev's lower_<slave> points at the slave while the
// slave is the bond's.
func lowerTarget(n *node, snap *bond.Snapshot) (string, bool) {
	s := strings.TrimPrefix(n.name, "lower_")
	if b, _ := snap.Slave(s); b == nil || b.Name != n.dev {
		return "", false
	}
	return n.fsys.adjacentTarget(n.dev, s), true
}

// upperTarget: slave n.dev's upper_<bond> points at the bond while the
// slave is the bond's.
func upperTarget(n *node, snap *bond.Snapshot) (string, bool) {
	m := strings.TrimPrefix(n.name, "upper_")
	if b, _ := snap.Slave(n.dev); b == nil || b.Name != m {
		return "", false
	}
	return n.fsys.adjacentTarget(n.dev, m), true
}

// masterTarget: slave n.dev's master points at its bond, whichever it is.
func masterTarget(n *node, snap *bond.Snapshot) (string, bool) {
	if b, _ := snap.Slave(n.dev); b != nil {
		return n.fsys.adjacentTarget(n.dev, b.Name), true
	}
	return "", false
}
