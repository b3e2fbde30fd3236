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
	got, rc, _ := rtnlExec(t, a, prog)
	assert.Equal(t, 0, rc, got)
	assert.Regexp(t, regexp.MustCompile(`^bond7: bond mode active-backup miimon 100
eth0: master true slave bond state (ACTIVE|BACKUP) mii (UP|DOWN)
eth1: master true slave bond state (ACTIVE|BACKUP) mii (UP|DOWN)
$`), got)
}
