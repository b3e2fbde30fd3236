package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
)

// DefaultRoot is the mount point of the system's daemon (bondingfs.service).
const DefaultRoot = "/run/bondingfs"

// DefaultCtl is the control socket of the daemon serving DefaultRoot.
const DefaultCtl = "/run/bondingfs.ctl"

// DefaultCtlDir holds the control sockets of daemons serving other roots
// (CtlPath).
const DefaultCtlDir = "/run/bondingfs-ctl"

// DefaultStateDir is where serve keeps its crash journals (outside the FUSE
// mount root, which is mounted over at start), one directory per mount root
// and network namespace (StateDir).
const DefaultStateDir = "/run/bondingfs-state"

// maxSocketPath is the longest path a unix socket can be bound to
// (sizeof(sockaddr_un.sun_path) less its terminating NUL).
const maxSocketPath = 107

// rootName names the mount root in a file name: the absolute path with "/"
// as "-" ("-" for "/"). StateDir and CtlPath derive their paths from it.
func rootName(root string) string {
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	name := strings.ReplaceAll(strings.Trim(root, "/"), "/", "-")
	if name == "" {
		name = "-"
	}
	return name
}

// StateDir is the journal directory of a daemon serving root for netns:
// DefaultStateDir/<root with "/" as "-">[@<netns>], so that daemons of
// different roots or namespaces never restore each other's bonds. A
// namespace is named as `ip netns` names it: NAME and its path
// /var/run/netns/NAME (or /run/netns/NAME, which `exec --netns NAME` passes
// on to serve) are one namespace and one journal; another path keeps its
// "/" as "-". A name longer than a file name may be (255 bytes) keeps its
// first 200 bytes and gets the first 16 hex digits of its SHA-256 instead
// of the rest.
func StateDir(root, netns string) string {
	name := rootName(root)
	if netns != "" {
		name += "@" + netnsName(netns)
	}
	if len(name) > 255 {
		sum := sha256.Sum256([]byte(name))
		name = name[:200] + "-" + hex.EncodeToString(sum[:8])
	}
	return filepath.Join(DefaultStateDir, name)
}

// netnsName is the name of the network namespace netns (a name or a path)
// in StateDir.
func netnsName(netns string) string {
	for _, d := range []string{"/var/run/netns/", "/run/netns/"} {
		if n, ok := strings.CutPrefix(filepath.Clean(netns), d); ok && n != "" && !strings.Contains(n, "/") {
			return n
		}
	}
	return strings.ReplaceAll(strings.Trim(netns, "/"), "/", "-")
}

// CtlPath is the control socket of the daemon serving root, which `serve`
// listens on unless --ctl says otherwise and `status` and `modprobe` dial:
// DefaultCtl for DefaultRoot, else DefaultCtlDir/<root with "/" as "-">.ctl
// (/run/bondingfs-ctl/srv-bonds.ctl for /srv/bonds). A name that would make
// the path longer than a socket path may be (107 bytes) keeps its first 40
// bytes and gets the first 16 hex digits of its SHA-256 instead of the rest.
// The network namespace is not part of it: one root has one daemon.
func CtlPath(root string) string {
	name := rootName(root)
	if name == rootName(DefaultRoot) {
		return DefaultCtl
	}
	p := filepath.Join(DefaultCtlDir, name+".ctl")
	if len(p) <= maxSocketPath {
		return p
	}
	sum := sha256.Sum256([]byte(name))
	return filepath.Join(DefaultCtlDir, name[:40]+"-"+hex.EncodeToString(sum[:8])+".ctl")
}
