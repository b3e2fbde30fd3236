package fusefs

import (
	"fmt"
	"log"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"bondingfs/bond"
	"bondingfs/internal/nettest"
)

// DumpTreeFn is a shell function: dump DIR prints every entry below DIR,
// sorted, as "path/" (directory), "path -> base" (symlink, the last element
// of its target) or "path = text" (a file's text with newlines as |, or
// cat's error).
const DumpTreeFn = `dump() { ( cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while read -r p; do
  if [ -L "$p" ]; then echo "$p -> $(basename "$(readlink "$p")")"
  elif [ -d "$p" ]; then echo "$p/"
  else echo "$p = $( (cat < "$p") 2>&1 | tr '\n' '|')"; fi; done ); }
`

// mountSysfs mounts be over a private sysfs of a fresh namespace holding a
// veth pair eth0/eth1 (down, so that no counter moves) and a TAP bond0.
func mountSysfs(t *testing.T, be Backend) (string, *nettest.Netns) {
	t.Helper()
	return mountSysfsOpts(t, be, Options{})
}

// mountSysfsOpts is mountSysfs with opts (Sysfs set by it).
func mountSysfsOpts(t *testing.T, be Backend, opts Options) (string, *nettest.Netns) {
	t.Helper()
	nettest.SkipUnlessRoot(t)
	ns := nettest.NewNetns(t, "fsys")
	nettest.Veth(t, ns, "eth0", ns, "eth1")
	ns.SetDown(t, "eth0")
	ns.SetDown(t, "eth1")
	ns.Run(t, "ip", "tuntap", "add", "dev", "bond0", "mode", "tap")
	ps, err := OpenPrivateSysfs(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ps.Close() })
	dir := t.TempDir()
	opts.Sysfs = ps.Path()
	srv, err := Mount(dir, be, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir, ns
}

// kernelPassthrough reports whether the running kernel offers FUSE
// passthrough (Linux 6.9 and later): the kernel version, since the probe
// itself is what the test checks.
func kernelPassthrough(t *testing.T) bool {
	t.Helper()
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	var major, minor int
	if _, err := fmt.Sscanf(b.String(), "%d.%d", &major, &minor); err != nil {
		t.Fatalf("kernel release %q: %v", b.String(), err)
	}
	return major > 6 || major == 6 && minor >= 9
}

// TestSysfsCachedFilesFollowChanges: a real attribute's text changes
// behind the mount's back with no link event (a counter), and every reader — read(2)
// and sendfile (busybox cat, whose splice read stops at the size the kernel
// keeps for the file) — sees the whole new text at once, with the file's
// entry cached (FUSE passthrough) or looked up at every walk (without).
// With passthrough on a kernel that has it, a second walk to a real file
// costs no request, a file the emulation renders once its device is
// enslaved (flags) none either while the backend reports its changes
// (TestSysfsEnslavementEntries), and a file the emulation renders now is
// looked up each time.
func TestSysfsCachedFilesFollowChanges(t *testing.T) {
	for _, noPT := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoPassthrough=%v", noPT), func(t *testing.T) {
			be := newFake(&bond.BondStatus{Name: "bond0", Params: bond.DefaultParams()})
			var dbg lockedBuffer
			d, ns := mountSysfsOpts(t, be, Options{NoPassthrough: noPT, Debug: true, DebugLog: log.New(&dbg, "", 0)})
			busybox := haveBusybox(t)
			// a counter grows with no link event, so that the link watch
			// drops nothing: lo's, up since before the mount, from 0 to
			// 3 and 4 digits as pings go through it
			const txBytes = "/sys/class/net/lo/statistics/tx_bytes"
			for i := 0; i < 3; i++ {
				want := ns.Run(t, "cat", txBytes)
				// with busybox, no read(2): one past the size the kernel
				// keeps has it ask for the size again, which would hide a
				// stale one from the next stat
				read := `cat $D` + txBytes
				if busybox {
					read = `busybox cat $D` + txBytes + `; busybox cat $D` + txBytes
				}
				wantOut(t, sh(t, d, 0, `stat -c %s $D`+txBytes+`; `+read), "4096\n"+strings.Repeat(want, strings.Count(read, ";")+1))
				ns.Run(t, "ping", "-q", "-c", "3", "-i", "0.01", "127.0.0.1")
			}
			// a write through the mount (O_TRUNC sets the kernel's size to
			// 0, the write to its length), then a sendfile read and a stat
			for i := 0; i < 3 && busybox; i++ {
				v := fmt.Sprintf("%d", 600+i*5000)
				wantOut(t, sh(t, d, 0, `echo `+v+` > $S/eth1/mtu && busybox cat $S/eth1/mtu && stat -c %s $S/eth1/mtu`), v+"\n4096\n")
			}
			// the walk's requests, the second time
			const walk = `stat -c %s $S/eth1/mtu $S/eth1/statistics/rx_bytes $S/eth1/operstate $S/eth1/subsystem $S/eth0/flags $S/bond0/operstate >/dev/null`
			wantOut(t, sh(t, d, 0, walk), "")
			dbg.take()
			wantOut(t, sh(t, d, 0, walk), "")
			lookups := map[string]int{}
			for _, m := range fuseRequest.FindAllStringSubmatch(dbg.take(), -1) {
				if m[1] == "LOOKUP" {
					lookups[m[0]]++ // one per request
				}
			}
			n := len(lookups)
			switch {
			case noPT || !kernelPassthrough(t):
				if n != 5 {
					t.Errorf("%d LOOKUP requests in the second walk, want 5 (every file's; the subsystem link is cached): %v", n, lookups)
				}
			default:
				// eth0/flags, which a slave's directory renders, is
				// cached as the real file while the backend reports
				// its changes (the fake does, as the registry)
				if n != 1 {
					t.Errorf("%d LOOKUP requests in the second walk, want 1 (bond0's rendered operstate): %v", n, lookups)
				}
			}

			// a rendered attribute's mode is the real file's, cached
			// between walks only: a chmod of the real one shows at the
			// next walk
			wantOut(t, sh(t, d, 0, `stat -c %a $S/bond0/operstate`), "444\n")
			ns.Run(t, "chmod", "400", "/sys/class/net/bond0/operstate")
			wantOut(t, sh(t, d, 0, `stat -c %a $S/bond0/operstate`), "400\n")
			ns.Run(t, "chmod", "444", "/sys/class/net/bond0/operstate")

			// a TAP's attribute that a bond renders is looked up anew:
			// bond1's uevent is the TAP's, then the bond's once the
			// engine publishes it
			ns.Run(t, "ip", "tuntap", "add", "dev", "bond1", "mode", "tap")
			wantOut(t, sh(t, d, 0, `head -n 1 $S/bond1/uevent; head -n 1 $S/bond1/uevent`), "INTERFACE=bond1\nINTERFACE=bond1\n")
			be.set(be.Snapshot().Bonds[0], &bond.BondStatus{Name: "bond1", Params: bond.DefaultParams()})
			wantOut(t, sh(t, d, 0, `head -n 1 $S/bond1/uevent`), "DEVTYPE=bond\n")
		})
	}
}

func TestSysfsPassthrough(t *testing.T) {
	b0 := &bond.BondStatus{Name: "bond0", Params: bond.DefaultParams(), Carrier: true,
		Slaves: []bond.SlaveStatus{upSlave("eth0")}}
	b0.Slaves[0].Active = true
	d, ns := mountSysfs(t, newFake(b0))

	// every device plus bonding_masters
	wantOut(t, sh(t, d, 0, `ls $S`), "bond0\nbonding_masters\neth0\neth1\nlo\n")
	// a device that is neither bond nor slave reads as in the real sysfs
	real := ns.Run(t, "bash", "-c", DumpTreeFn+`dump /sys/class/net/eth1`)
	r := sh(t, d, 0, DumpTreeFn+`dump $S/eth1`)
	if r.out != real || r.rc != 0 || len(real) < 500 {
		t.Errorf("eth1 through the mount differs from the real sysfs:\n%s", diffLines(real, r.out))
	}
	// a slave: the same, plus the bonding entries and IFF_SLAVE in flags
	real = ns.Run(t, "bash", "-c", DumpTreeFn+`dump /sys/class/net/eth0`)
	r = sh(t, d, 0, DumpTreeFn+`dump $S/eth0 | grep -v -e '^\./bonding_slave' -e '^\./master' -e '^\./upper_' -e '^\./flags '`)
	want := ""
	for _, l := range strings.SplitAfter(real, "\n") {
		if !strings.HasPrefix(l, "./flags ") {
			want += l
		}
	}
	if r.out != want || r.rc != 0 {
		t.Errorf("eth0 through the mount differs from the real sysfs:\n%s", diffLines(want, r.out))
	}
	wantOut(t, sh(t, d, 0, `cat $S/eth0/flags; readlink $S/eth0/master; cat $S/eth0/bonding_slave/state`), "0x1802\n../bond0\nactive\n")

	// a bond's directory reads as a kernel bond's
	wantOut(t, sh(t, d, 0, `cd $S/bond0; ls tun_flags owner group 2>&1 | wc -l; cat type operstate flags; head -n 1 uevent; ls -d bonding lower_eth0`),
		"3\n1\ndown\n0x1402\nDEVTYPE=bond\nbonding\nlower_eth0\n")
	if r := sh(t, d, 0, `ls $S/bond0 | grep -c -e tun_flags -e owner -e '^group$'`); r.out != "0\n" {
		t.Errorf("bond0 lists TAP-only files: %q", r.out)
	}
	wantOut(t, sh(t, d, 0, `cat $S/bond0/lower_eth0/operstate $S/bond0/lower_eth0/ifindex`),
		ns.Run(t, "cat", "/sys/class/net/eth0/operstate", "/sys/class/net/eth0/ifindex"))
	wantErr(t, sh(t, d, 0, `cat $S/bond0/speed`), "Invalid argument")
	wantErr(t, sh(t, d, 0, `cat $S/bond0/name_assign_type`), "Invalid argument")
	wantOut(t, sh(t, d, 0, `cat $S/eth1/name_assign_type`), ns.Run(t, "cat", "/sys/class/net/eth1/name_assign_type"))
	ns.SetUp(t, "bond0")
	wantOut(t, sh(t, d, 0, `cat $S/bond0/speed $S/bond0/duplex`), "10000\nfull\n")

	// writes pass through
	wantOut(t, sh(t, d, 0, `echo 9000 > $S/eth1/mtu && cat $S/eth1/mtu`), "9000\n")
	if got := ns.Run(t, "cat", "/sys/class/net/eth1/mtu"); got != "9000\n" {
		t.Errorf("real mtu after the write = %q", got)
	}
	wantOut(t, sh(t, d, 0, `echo 0x1403 > $S/bond0/flags; cat /dev/null; cat $S/bond0/flags`), "0x1403\n")

	// devices that appear, are renamed or go show at once
	nettest.Veth(t, ns, "eth2", ns, "eth3")
	wantOut(t, sh(t, d, 0, `ls $S | tr '\n' ' '; cat $S/eth2/operstate`), "bond0 bonding_masters eth0 eth1 eth2 eth3 lo up\n")
	ns.SetDown(t, "eth2")
	ns.Run(t, "ip", "link", "set", "eth2", "name", "eth9")
	wantOut(t, sh(t, d, 0, `ls $S | tr '\n' ' '; cat $S/eth9/operstate; ls $S/eth2 2>&1 >/dev/null | wc -l`),
		"bond0 bonding_masters eth0 eth1 eth3 eth9 lo down\n1\n")
	ns.Run(t, "ip", "link", "del", "eth9")
	wantOut(t, sh(t, d, 0, `ls $S | tr '\n' ' '; [ -e $S/eth9 ] || echo gone`), "bond0 bonding_masters eth0 eth1 lo gone\n")

	// the subsystem link has the kernel's text and resolves from the
	// device's place under devices/
	wantOut(t, sh(t, d, 0, `readlink $S/eth1/subsystem; ls $S/eth1/subsystem/ | grep -c bonding_masters`), "../../../../class/net\n1\n")

	// class/net's entries are the kernel's links into devices/, whose
	// directories hold the bonding entries
	wantOut(t, sh(t, d, 0, `readlink $S/bond0 $S/eth0; cd $S/eth0 && pwd -P | sed "s|^$D||"; readlink -f $S/eth1 | sed "s|^$D||"
(ls $D/sys/devices; ls $D/sys/devices/virtual) | tr '\n' ' '; echo; ls $D/sys/devices/virtual/net | tr '\n' ' '; echo
ls -l $S | grep -c virtual; readlink $S/eth1 | grep -c virtual; stat -c %F $S/eth0 $S/eth0/
ls $D/sys/devices/virtual/net/eth0/bonding_slave | wc -l; readlink $D/sys/devices/virtual/net/bond0/lower_eth0`),
		"../../devices/virtual/net/bond0\n../../devices/virtual/net/eth0\n/sys/devices/virtual/net/eth0\n/sys/devices/virtual/net/eth1\n"+
			"virtual net \nbond0 eth0 eth1 lo \n4\n1\nsymbolic link\ndirectory\n8\n../eth0\n")

	// a bridge's links pass through; only the bond's are the emulation's
	ns.Run(t, "ip", "link", "add", "br0", "type", "bridge")
	ns.Run(t, "ip", "link", "set", "eth1", "master", "br0")
	ns.Run(t, "ip", "link", "set", "bond0", "master", "br0")
	wantOut(t, sh(t, d, 0, `readlink $S/eth1/master; cd $S/eth1 && ls -d master upper_*; cd $S/br0 && ls -d lower_*
cd $S/bond0 && ls -d master upper_* lower_*; readlink $S/bond0/master; basename "$(readlink $S/eth0/master)"`),
		"../br0\nmaster\nupper_br0\nlower_bond0\nlower_eth1\nlower_eth0\nmaster\nupper_br0\n../br0\nbond0\n")
}

func diffLines(want, got string) string {
	w := strings.Split(want, "\n")
	g := strings.Split(got, "\n")
	var b strings.Builder
	in := map[string]bool{}
	for _, l := range g {
		in[l] = true
	}
	for _, l := range w {
		if !in[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	in = map[string]bool{}
	for _, l := range w {
		in[l] = true
	}
	for _, l := range g {
		if !in[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// proc/net serves each caller its own network namespace's files, and
// bonding/ only to callers in the engine's namespace.
func TestProcNetPerCaller(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	engine := nettest.NewNetns(t, "fsproc")
	other := nettest.NewNetns(t, "fsproc")
	nettest.Veth(t, engine, "bfsq0", other, "bfsq1")
	var st syscall.Stat_t
	if err := syscall.Stat(engine.Path(), &st); err != nil {
		t.Fatal(err)
	}
	b0 := &bond.BondStatus{Name: "bond0", Params: bond.DefaultParams()}
	dir := t.TempDir()
	srv, err := Mount(dir, newFake(b0), Options{ProcNet: true, EngineNetns: st.Ino})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Unmount() })
	script := `cd ` + dir + `/proc/self/net && grep -o -e 'bfsq0:' -e 'bfsq1:' dev; ls | grep -c -x -e bonding -e dev -e if_inet6 -e route -e snmp; ` +
		`ls bonding | wc -l; head -n 1 bonding/bond0 2>&1 | sed 's/:.*//'; diff <(cut -c1-20 dev) <(cut -c1-20 /proc/self/net/dev) && echo same; ` +
		`stat -c %s snmp; [ -d stat ] && echo dir; ls ../../net/bonding; grep -c -e 'bfsq0:' -e 'bfsq1:' ../../net/dev`
	if got := engine.Run(t, "bash", "-c", script); got != "bfsq0:\n5\n1\nEthernet Channel Bonding Driver\nsame\n4096\ndir\nbond0\n1\n" {
		t.Errorf("in the engine's namespace: %q", got)
	}
	// another namespace: its own files, an empty bonding/ at proc/self/net
	// (the real /proc/net's view), the bonds at proc/net (the mount's)
	if got := other.Run(t, "bash", "-c", script); got != "bfsq1:\n5\n0\nhead\nsame\n4096\ndir\nbond0\n1\n" {
		t.Errorf("in another namespace: %q", got)
	}
	// the daemon's own namespace (neither of the two) for this process
	r := sh(t, dir, 0, `grep -c -e 'bfsq0:' -e 'bfsq1:' $D/proc/net/dev`)
	if r.out != "0\n" {
		t.Errorf("this process sees %q of the test namespaces' devices", r.out)
	}
}

// TestSysfsListingsFollowChanges: the listings of class/net and of a
// device directory are kept in the kernel's cache between opendir(3)s
// (a second `ls` costs no READDIR), and every change shows at the next
// listing: the engine's (enslave, release, a bond made and deleted) and
// the host's (a device added and removed, with no engine change at all).
func TestSysfsListingsFollowChanges(t *testing.T) {
	bond0 := &bond.BondStatus{Name: "bond0", Params: bond.DefaultParams()}
	be := newFake(bond0)
	var dbg lockedBuffer
	d, ns := mountSysfsOpts(t, be, Options{Debug: true, DebugLog: log.New(&dbg, "", 0)})
	const list = `ls $S | tr '\n' ' '; echo; ls $S/eth0 | grep -E '^(master|upper_|bonding_slave)' | tr '\n' ' '; echo; ls $S/bond0 | grep -E '^(lower_|bonding$)' | tr '\n' ' '; echo`
	wantOut(t, sh(t, d, 0, list), "bond0 bonding_masters eth0 eth1 lo \n\nbonding \n")
	dbg.take()
	wantOut(t, sh(t, d, 0, list), "bond0 bonding_masters eth0 eth1 lo \n\nbonding \n")
	if n := strings.Count(dbg.take(), ": READDIR "); n != 0 {
		t.Errorf("%d READDIR requests listing unchanged directories again, want 0 (cached)", n)
	}
	for i := 0; i < 2; i++ {
		enslaved := &bond.BondStatus{Name: "bond0", Params: bond.DefaultParams(), Slaves: []bond.SlaveStatus{upSlave("eth0")}}
		be.set(enslaved)
		wantOut(t, sh(t, d, 0, list), "bond0 bonding_masters eth0 eth1 lo \nbonding_slave master upper_bond0 \nbonding lower_eth0 \n")
		be.set(bond0)
		wantOut(t, sh(t, d, 0, list), "bond0 bonding_masters eth0 eth1 lo \n\nbonding \n")
	}
	// a device of the host comes and goes, the engine unchanged
	ns.Run(t, "ip", "link", "add", "eth2", "type", "veth", "peer", "name", "eth3")
	wantOut(t, sh(t, d, 0, `ls $S | tr '\n' ' '`), "bond0 bonding_masters eth0 eth1 eth2 eth3 lo ")
	ns.Run(t, "ip", "link", "del", "eth2")
	wantOut(t, sh(t, d, 0, `ls $S | tr '\n' ' '`), "bond0 bonding_masters eth0 eth1 lo ")
	// the bond deleted (its TAP stays: a plain device again)
	be.set()
	wantOut(t, sh(t, d, 0, `ls $S | tr '\n' ' '; ls $S/bond0 | grep -cE '^(bonding|lower_)' || :`), "bond0 bonding_masters eth0 eth1 lo 0\n")
}

// cachedLookup matches the debug line of a LOOKUP of an entry of
// enslavement.
var cachedLookup = regexp.MustCompile(`LOOKUP n\d+\s+"(master|upper_bond0|bonding_slave|lower_eth0)"`)

// TestSysfsEnslavementEntries: the entries of enslavement (a slave's
// master, upper_<bond>, bonding_slave/ and flags, a bond's lower_<slave>
// and bonding/) are cached by the kernel, and every change shows at once:
// enslave and release written through the mount, the engine releasing a
// slave and deleting a bond by itself, a slave moving to another bond.
func TestSysfsEnslavementEntries(t *testing.T) {
	for _, noPT := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoPassthrough=%v", noPT), func(t *testing.T) {
			bond0 := &bond.BondStatus{Name: "bond0", Params: bond.DefaultParams()}
			be := newFake(bond0)
			var dbg lockedBuffer
			d, _ := mountSysfsOpts(t, be, Options{NoPassthrough: noPT, Debug: true, DebugLog: log.New(&dbg, "", 0)})
			const look = `for p in eth0/master eth0/upper_bond0 eth0/upper_bond1 eth0/bonding_slave bond0/lower_eth0 bond1/lower_eth0 bond1/bonding; do
  if [ -L $S/$p ]; then echo "$p -> $(readlink $S/$p)"; elif [ -d $S/$p ]; then echo "$p/ $(ls $S/$p | wc -l)"; elif stat $S/$p >/dev/null 2>&1; then echo "$p ?"; fi
done; printf 'flags %x\n' $(( $(cat $S/eth0/flags) & 0x800 ))`
			none := "flags 0\n"
			enslaved0 := "eth0/master -> ../bond0\neth0/upper_bond0 -> ../bond0\neth0/bonding_slave/ 8\nbond0/lower_eth0 -> ../eth0\nflags 800\n"
			wantOut(t, sh(t, d, 0, look), none)
			for i := 0; i < 2; i++ {
				// through the mount
				wantOut(t, sh(t, d, 0, `echo +eth0 > $S/bond0/bonding/slaves && `+look), enslaved0)
				dbg.take()
				wantOut(t, sh(t, d, 0, look), enslaved0)
				if m := cachedLookup.FindAllString(dbg.take(), -1); len(m) != 0 {
					t.Errorf("round %d: LOOKUP requests walking the entries of enslavement again, want none: %q", i, m)
				}
				wantOut(t, sh(t, d, 0, `echo -eth0 > $S/bond0/bonding/slaves && `+look), none)
				// by the engine
				be.set(&bond.BondStatus{Name: "bond0", Params: bond.DefaultParams(), Slaves: []bond.SlaveStatus{upSlave("eth0")}})
				wantOut(t, sh(t, d, 0, look), enslaved0)
				be.set(bond0)
				wantOut(t, sh(t, d, 0, look), none)
			}
			// a slave moves to a new bond (a TAP of the host) and the
			// bond is deleted with it
			be.set(&bond.BondStatus{Name: "bond0", Params: bond.DefaultParams(), Slaves: []bond.SlaveStatus{upSlave("eth0")}})
			wantOut(t, sh(t, d, 0, look), enslaved0)
			be.set(bond0, &bond.BondStatus{Name: "bond1", Params: bond.DefaultParams(), Slaves: []bond.SlaveStatus{upSlave("eth0")}})
			wantOut(t, sh(t, d, 0, look), "eth0/master -> ../bond1\neth0/upper_bond1 -> ../bond1\neth0/bonding_slave/ 8\nbond1/lower_eth0 -> ../eth0\nbond1/bonding/ 38\nflags 800\n")
			be.set(bond0)
			wantOut(t, sh(t, d, 0, look), none)
		})
	}
}
