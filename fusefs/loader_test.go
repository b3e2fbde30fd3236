package fusefs

import (
	"sync/atomic"
	"testing"
)

// loaderBackend is a fake backend with a module that can be unloaded.
type loaderBackend struct {
	*fakeBackend
	loaded atomic.Bool
}

func (l *loaderBackend) Loaded() bool { return l.loaded.Load() }

// An unloaded backend shows what a kernel without bonding.ko shows: no
// bonding_masters, no /proc/net/bonding; loading brings them back.
func TestUnloadedHidesBondingEntries(t *testing.T) {
	be := &loaderBackend{fakeBackend: newFake()}
	dir := mountFake(t, be)
	r := sh(t, dir, 0, `ls -A $S; ls -A $D/proc/net; test -e $S/bonding_masters && echo masters; test -d $P && echo proc; echo x > $S/bonding_masters 2>/dev/null || echo nowrite`)
	wantOut(t, r, "nowrite\n")
	be.loaded.Store(true)
	wantOut(t, sh(t, dir, 0, `ls -A $S; ls -A $D/proc/net; test -e $S/bonding_masters && echo masters; test -d $P && echo proc`),
		"bonding_masters\nbonding\nmasters\nproc\n")
}

// The same over the full /sys/class/net passthrough: the devices stay,
// bonding_masters goes.
func TestUnloadedPassthrough(t *testing.T) {
	be := &loaderBackend{fakeBackend: newFake()}
	d, _ := mountSysfs(t, be)
	wantOut(t, sh(t, d, 0, `ls $S; test -e $S/bonding_masters && echo masters; cat $S/eth0/mtu`), "bond0\neth0\neth1\nlo\n1500\n")
	be.loaded.Store(true)
	wantOut(t, sh(t, d, 0, `ls $S; test -e $S/bonding_masters && echo masters`), "bond0\nbonding_masters\neth0\neth1\nlo\nmasters\n")
}
