// Package nettest holds root-only helpers for integration tests: network
// namespaces, veth pairs and bridges built with iproute2, all removed when
// the test ends. Tests that need them call SkipUnlessRoot first; it skips
// without root, but fails when CI=true so root-only tests never silently
// skip in CI.
package nettest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cmdTimeout bounds every synchronous command a helper runs.
const cmdTimeout = 60 * time.Second

// SkipUnlessRoot skips the test unless it runs as root with /dev/net/tun,
// /dev/fuse and the ip command available. When the environment variable CI
// is "true" it fails the test instead of skipping.
func SkipUnlessRoot(t testing.TB) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, dev := range []string{"/dev/net/tun", "/dev/fuse"} {
		if _, err := os.Stat(dev); err != nil {
			missing = append(missing, dev)
		}
	}
	if _, err := exec.LookPath("ip"); err != nil {
		missing = append(missing, "ip (iproute2)")
	}
	if len(missing) == 0 {
		return
	}
	msg := "needs " + strings.Join(missing, ", ") + "; run as root, e.g. sudo -E go test ./..."
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: root-only tests must run)")
	}
	t.Skip(msg)
}

var nsCounter atomic.Uint64

// Netns is a network namespace created for one test (ip netns add).
type Netns struct {
	name string

	mu    sync.Mutex
	procs []*exec.Cmd // started by Start, killed in cleanup
}

// NewNetns creates a namespace named prefix+pid+"-"+counter with lo up and
// registers its removal (after killing the processes Start began in it)
// with t.Cleanup.
func NewNetns(t testing.TB, prefix string) *Netns {
	t.Helper()
	n := &Netns{name: fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), nsCounter.Add(1))}
	if out, err := run("ip", "netns", "add", n.name); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", n.name, err, out)
	}
	t.Cleanup(func() {
		n.killAll()
		if out, err := run("ip", "netns", "del", n.name); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", n.name, err, out)
		}
	})
	n.Run(t, "ip", "link", "set", "lo", "up")
	return n
}

// Name returns the namespace's name as ip netns knows it.
func (n *Netns) Name() string { return n.name }

// Path returns the namespace's bind-mount path (/var/run/netns/NAME).
func (n *Netns) Path() string { return "/var/run/netns/" + n.name }

// Exec runs args inside the namespace (ip netns exec) and returns its
// combined output.
func (n *Netns) Exec(args ...string) (string, error) {
	return run(append([]string{"ip", "netns", "exec", n.name}, args...)...)
}

// Run is Exec that fails the test, showing the output, when the command
// fails.
func (n *Netns) Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := n.Exec(args...)
	if err != nil {
		t.Fatalf("ip netns exec %s %s: %v\n%s", n.name, strings.Join(args, " "), err, out)
	}
	return out
}

// Start starts args inside the namespace in the background, in a process
// group of its own; cleanup kills that group (by the pid Start got) and
// waits for it. Its output is discarded.
func (n *Netns) Start(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s in %s: %v", strings.Join(args, " "), n.name, err)
	}
	n.mu.Lock()
	n.procs = append(n.procs, cmd)
	n.mu.Unlock()
	t.Cleanup(func() { kill(cmd) })
	return cmd
}

func (n *Netns) killAll() {
	n.mu.Lock()
	procs := n.procs
	n.procs = nil
	n.mu.Unlock()
	for _, c := range procs {
		kill(c)
	}
}

var killMu sync.Mutex

// kill ends the process group of a command Start began, once.
func kill(c *exec.Cmd) {
	killMu.Lock()
	defer killMu.Unlock()
	if c.ProcessState != nil {
		return
	}
	pid := c.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGKILL) // the group we created with Setpgid
	_ = c.Wait()
}

// SetUp sets the link dev up.
func (n *Netns) SetUp(t testing.TB, dev string) {
	t.Helper()
	n.Run(t, "ip", "link", "set", dev, "up")
}

// SetDown sets the link dev down.
func (n *Netns) SetDown(t testing.TB, dev string) {
	t.Helper()
	n.Run(t, "ip", "link", "set", dev, "down")
}

// SetMAC sets the link's MAC address.
func (n *Netns) SetMAC(t testing.TB, dev, mac string) {
	t.Helper()
	n.Run(t, "ip", "link", "set", dev, "address", mac)
}

// AddAddr adds an address in CIDR form (192.0.2.1/24) to dev.
func (n *Netns) AddAddr(t testing.TB, dev, cidr string) {
	t.Helper()
	n.Run(t, "ip", "addr", "add", cidr, "dev", dev)
}

// Veth creates a veth pair with end aName in namespace a and end bName in b
// (b may be a) and sets both ends up. The pair goes away with the
// namespaces.
func Veth(t testing.TB, a *Netns, aName string, b *Netns, bName string) {
	t.Helper()
	args := []string{"ip", "link", "add", aName, "type", "veth", "peer", "name", bName}
	if b != a {
		args = append(args, "netns", b.name)
	}
	a.Run(t, args...)
	a.SetUp(t, aName)
	b.SetUp(t, bName)
}

// Bridge creates bridge name in ns with ports enslaved, adds addrCIDR to it
// unless it is "", and sets it and the ports up.
func Bridge(t testing.TB, ns *Netns, name, addrCIDR string, ports ...string) {
	t.Helper()
	ns.Run(t, "ip", "link", "add", name, "type", "bridge")
	for _, p := range ports {
		ns.Run(t, "ip", "link", "set", p, "master", name)
		ns.SetUp(t, p)
	}
	if addrCIDR != "" {
		ns.AddAddr(t, name, addrCIDR)
	}
	ns.SetUp(t, name)
}

func run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	return string(out), err
}
