package integration

// Lifecycle: what the daemon must undo. On SIGTERM every slave gets back its
// MAC, MTU, up/down state and IPv6 setting, the isolation (nft netdev ingress
// drop) goes, the TAP is deleted and the mount removed; a bond deleted from
// outside (`ip link del bond0`) disappears from bonding_masters as with -bond0.

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"bondingfs/internal/nettest"
)

type linkState struct {
	mac, mtu, up, ipv6off string
}

func slaveState(t *testing.T, ns *nettest.Netns, dev string) linkState {
	t.Helper()
	out := ns.Run(t, "ip", "-o", "link", "show", "dev", dev)
	// ip may print "Error: Peer netns reference is invalid." (stderr) before
	// the link's line when the veth's peer namespace has no id here
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, ": "+dev+":") || strings.Contains(l, ": "+dev+"@") {
			out = l
			break
		}
	}
	var st linkState
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "link/ether":
			st.mac = f[i+1]
		case "mtu":
			st.mtu = f[i+1]
		}
	}
	flags := ""
	if len(f) > 2 {
		flags = f[2]
	}
	st.up = "down"
	if strings.Contains(flags, ",UP") || strings.Contains(flags, "<UP") {
		st.up = "up"
	}
	st.ipv6off = strings.TrimSpace(ns.Run(t, "cat", "/proc/sys/net/ipv6/conf/"+dev+"/disable_ipv6"))
	return st
}

func TestShutdownRestoresSlaves(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping")
	bondingfsBin(t)
	tp := newTopo(t, 2)
	tp.A.Run(t, "ip", "link", "set", "eth1", "mtu", "1400")
	before := map[string]linkState{"eth0": slaveState(t, tp.A, "eth0"), "eth1": slaveState(t, tp.A, "eth1")}
	nftBefore, _ := tp.A.Exec("nft", "list", "ruleset")

	tp.bond(t, "mode", "active-backup", "miimon", "100", "slaves", "+eth0", "slaves", "+eth1")
	tp.up(t)
	during := slaveState(t, tp.A, "eth1")
	t.Logf("eth1 before enslaving %+v, while enslaved %+v", before["eth1"], during)
	if during.up != "up" {
		t.Errorf("eth1 is %s while enslaved, want up", during.up)
	}

	if err := tp.d.stop(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	if out, err := tp.A.Exec("ip", "link", "show", "dev", "bond0"); err == nil {
		t.Errorf("bond0 still exists after the daemon stopped:\n%s", out)
	}
	for dev, want := range before {
		if got := slaveState(t, tp.A, dev); got != want {
			t.Errorf("%s after the daemon stopped: %+v, want %+v as before enslaving", dev, got, want)
		}
	}
	if nftAfter, err := tp.A.Exec("nft", "list", "ruleset"); err == nil && nftAfter != nftBefore {
		t.Errorf("nft ruleset in the bond's namespace not restored:\nbefore:\n%s\nafter:\n%s", nftBefore, nftAfter)
	}
}

func TestBondDeletedFromOutside(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip")
	bondingfsBin(t)
	tp := newTopo(t, 1)
	tp.bond(t, "slaves", "+eth0")
	tp.A.Run(t, "ip", "link", "del", "bond0")
	deadline := time.Now().Add(3 * time.Second)
	for {
		masters := readTrim(t, tp.d.sys+"/bonding_masters")
		if masters == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bonding_masters reads %q 3 s after ip link del bond0, want empty", masters)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// eth0 was released: it is no slave any more and can be enslaved again.
	mustEcho(t, tp.d.sys+"/bonding_masters", "+bond0")
	mustEcho(t, tp.d.sys+"/bond0/bonding/slaves", "+eth0")
	if got := readTrim(t, tp.d.sys+"/bond0/bonding/slaves"); got != "eth0" {
		t.Errorf("slaves of the recreated bond0: %q, want eth0", got)
	}
	if !tp.d.alive() {
		t.Fatal("the daemon died")
	}
}

// A daemon killed with SIGKILL cannot clean up, but it must not leave a dead
// mount ("Transport endpoint is not connected") behind: its reaper child
// unmounts the tree; the TAP goes with the process, and the next daemon
// removes the isolation the dead one left on the slaves.
func TestKilledDaemonLeavesNoDeadMount(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip", "ping")
	tp := newTopo(t, 1)
	tp.bond(t, "slaves", "+eth0")
	_ = tp.d.cmd.Process.Kill()
	<-tp.d.done
	deadline := time.Now().Add(3 * time.Second)
	for isMounted(tp.d.root) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still mounted 3 s after the daemon was killed", tp.d.root)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tp.d.stopped = true // nothing left to stop
	if out, err := tp.A.Exec("ip", "link", "show", "dev", "bond0"); err == nil {
		t.Errorf("bond0 outlived the daemon:\n%s", out)
	}
	// a new daemon takes over the namespace: the old isolation is gone and
	// eth0 can be enslaved again once it is down
	tp.A.SetDown(t, "eth0")
	d := startDaemon(t, tp.A.Name())
	mustEcho(t, d.sys+"/bond0/bonding/slaves", "+eth0")
	tp.d = d
	tp.up(t)
}

// A SIGTERM while the daemon is still setting up (a service stopped as it
// starts) is a clean stop once setup ends: the daemon exits 0 and leaves no
// mount and no control socket. The signal's default action would instead
// end the process mid-mount, with go-fuse's poll probe file open on its own
// mount: the exit then waits forever on a FLUSH it can no longer answer.
// Sent at fixed delays after the start (before the Go runtime handles
// signals a default exit is fine, nothing is mounted yet), and right when
// the control socket appears (bound before the mount: the daemon handles
// signals by then and must exit 0).
func TestSIGTERMDuringSetup(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	needTools(t, "ip")
	bin := bondingfsBin(t)
	A := nettest.NewNetns(t, "bfs-ts-")
	const atCtl = -1
	for i, delay := range []time.Duration{0, 2 * time.Millisecond, 10 * time.Millisecond, atCtl, atCtl, atCtl} {
		dir := t.TempDir()
		root := filepath.Join(dir, "mnt")
		ctl := filepath.Join(dir, "ctl")
		cmd := exec.Command(bin, "serve", "--root", root, "--ctl", ctl, "--state", "none", "--log", filepath.Join(dir, "kernel.log"), "--netns", A.Name())
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if delay == atCtl {
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Microsecond) {
				if _, err := os.Lstat(ctl); err == nil || time.Now().After(deadline) {
					break
				}
			}
		} else {
			time.Sleep(delay)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			var ee *exec.ExitError
			early := delay != atCtl && errors.As(err, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signal() == syscall.SIGTERM
			if err != nil && !early {
				t.Errorf("run %d (SIGTERM after %v): %v\n%s", i, delay, err, out)
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("run %d (SIGTERM after %v): the daemon did not exit within 20 s\n%s", i, delay, out)
		}
		if isMounted(root) {
			_ = syscall.Unmount(root, syscall.MNT_DETACH)
			t.Errorf("run %d (SIGTERM after %v): %s left mounted", i, delay, root)
		}
		if _, err := os.Lstat(ctl); !os.IsNotExist(err) {
			t.Errorf("run %d (SIGTERM after %v): control socket %s left: %v", i, delay, ctl, err)
		}
	}
}
