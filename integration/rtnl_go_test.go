package integration

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A static Go program (CGO_ENABLED=0) using vishvananda/netlink, unmodified,
// creates an active-backup bond under exec, enslaves two ports, and reads
// back a *netlink.Bond with its mode and miimon and the ports' BondSlave
// state: no libc to interpose, the seccomp filter sees its system calls.
func TestRtnlGoNetlink(t *testing.T) {
	a, _ := rtnlTopo(t)
	prog := rtnlgo(t)
	got, rc, _ := rtnlExec(t, a, prog)
	assert.Equal(t, 0, rc, got)
	assert.Regexp(t, regexp.MustCompile(`^bond7: bond mode active-backup miimon 100
eth0: master true slave bond state (ACTIVE|BACKUP) mii (UP|DOWN)
eth1: master true slave bond state (ACTIVE|BACKUP) mii (UP|DOWN)
$`), got)
}

// rtnlgo builds integration/testdata/rtnlgo, static.
func rtnlgo(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = "/usr/local/go/bin/go"
	}
	prog := filepath.Join(t.TempDir(), "rtnlgo")
	cmd := exec.Command(gobin, "build", "-o", prog, "./integration/testdata/rtnlgo")
	cmd.Dir = repoRoot
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return prog
}

// A socket-activated NETLINK_ROUTE fd (LISTEN_FDS, as systemd-networkd.socket
// passes one) reaches CMD through exec's hops at fd 3 with CMD's pid as
// LISTEN_PID, and is under the filter: a bond created over it is the
// engine's, and a dump over it shows kind bond.
func TestRtnlSocketActivation(t *testing.T) {
	a, _ := rtnlTopo(t)
	prog := rtnlgo(t)
	root := filepath.Join(t.TempDir(), "mnt")
	out, err := a.Exec(prog, "activate", bondingfsBin(t), "exec", "--netns", a.Name(), "--root", root, "--log", root+".log", "max_bonds=0", "--", prog, "listen")
	require.NoError(t, err, out)
	// the daemon's start-up notice of its data path is not the program's
	out = regexp.MustCompile(`(?m)^bondingfs: data path: .*\n`).ReplaceAllString(out, "")
	assert.Equal(t, "bond9 created over fd 3\nbond9 kind bond\nbonding_masters: bond9\n", out)
}
