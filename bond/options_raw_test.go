package bond

import (
	"syscall"
	"testing"
)

// Raw-value options (slaves, arp_ip_target, primary, active_slave, queue_id,
// ad_actor_system): the cases of goldens 09 step 6 and 14 step 2 that the
// option layer decides, plus the scanners they use.

func TestOptionsSlavesErrors(t *testing.T) {
	e := newOptEnv(t, "eth0", "eth1", "eth2", "eth3")
	noCmd := "bond0: no command found in slaves file - use +ifname or -ifname"
	e.w("slaves", "+nosuchdev", syscall.ENODEV, "bond0: option slaves: interface +nosuchdev does not exist!")
	e.w("slaves", "-nosuchdev", syscall.ENODEV, "bond0: option slaves: interface -nosuchdev does not exist!")
	e.w("slaves", "-eth3", syscall.EINVAL, "bond0: option slaves: invalid value (-eth3)")
	e.w("slaves", "eth3", syscall.EPERM, noCmd)
	e.w("slaves", "", syscall.EPERM, noCmd)
	e.w("slaves", "+", syscall.EPERM, noCmd)
	e.w("slaves", "-", syscall.EPERM, noCmd)
	e.w("slaves", "+eth/0", syscall.EPERM, noCmd)
	e.w("slaves", "+.", syscall.EPERM, noCmd)
	e.wraw("slaves", "", syscall.EPERM, noCmd)
	e.w("slaves", "+averyveryverylongdevicename", syscall.ENODEV,
		"bond0: option slaves: interface +averyveryverylongdevicename does not exist!")
	// only the first word counts, after leading white space
	e.w("slaves", " -eth3 +eth2", syscall.EINVAL, "bond0: option slaves: invalid value ( -eth3 +eth2)")
}

// Golden 14 step 2.
func TestOptionsAdActorSystem(t *testing.T) {
	e := newOptEnv(t)
	e.b.params.Mode = Mode8023AD
	bad := func(v string) {
		t.Helper()
		e.w("ad_actor_system", v, syscall.EINVAL, "bond0: Invalid ad_actor_system MAC address.",
			"bond0: option ad_actor_system: invalid value ("+v+")")
		e.r("ad_actor_system", "00:00:00:00:00:00\n")
	}
	e.w("ad_actor_system", "02:00:00:00:ad:01", 0)
	e.r("ad_actor_system", "02:00:00:00:ad:01\n")
	e.w("ad_actor_system", "00:00:00:00:00:00", 0)
	for _, v := range []string{"01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "02:00:00:00:ad", "", "bogus",
		"02-00-00-00-ad-02", "2:0:0:0:ad:3", "0x020000000000"} {
		bad(v)
	}
	e.w("ad_actor_system", "02:00:00:00:AD:04", 0)
	e.r("ad_actor_system", "02:00:00:00:ad:04\n")
	e.w("ad_actor_system", "02:00:00:00:ad:05 ", 0)
	e.r("ad_actor_system", "02:00:00:00:ad:05\n")
	e.w("ad_actor_system", "02:00:00:00:ad:06:07", 0)
	e.r("ad_actor_system", "02:00:00:00:ad:06\n")
	e.b.params.Mode = ModeActiveBackup
	e.w("ad_actor_system", "02:00:00:00:ad:01", syscall.EACCES,
		"bond0: option ad_actor_system: mode dependency failed, not supported in mode active-backup(1)")
}

func TestOptionsActiveSlaveAndPrimary(t *testing.T) {
	e := newOptEnv(t, "eth0", "eth1")
	e.w("active_slave", "eth0", syscall.EACCES,
		"bond0: option active_slave: mode dependency failed, not supported in mode balance-rr(0)")
	e.w("primary", "eth0", syscall.EACCES,
		"bond0: option primary: mode dependency failed, not supported in mode balance-rr(0)")
	e.b.params.Mode = ModeActiveBackup
	e.w("active_slave", "nosuch", syscall.ENODEV, "bond0: option active_slave: interface nosuch does not exist!")
	e.w("active_slave", "eth1", syscall.EINVAL, "bond0: (slave eth1): Device is not bonding slave",
		"bond0: option active_slave: invalid value (eth1)")
	e.w("active_slave", "", 0)
	e.r("active_slave", "")
	// primary never fails; a name not enslaved is recorded, not shown
	e.w("primary", "eth1", 0)
	e.r("primary", "")
	if e.b.params.Primary != "eth1" {
		t.Errorf("primary recorded as %q", e.b.params.Primary)
	}
	e.w("primary", "nosuchinterface_long", 0)
	if got := e.b.params.Primary; got != "nosuchinterface" {
		t.Errorf("long primary recorded as %q", got)
	}
	e.w("primary", "", 0)
	if e.b.params.Primary != "" {
		t.Errorf("primary not cleared: %q", e.b.params.Primary)
	}
}

func TestOptionsWriteLimits(t *testing.T) {
	e := newOptEnv(t)
	// a NUL ends the written text (kstrndup)
	e.wraw("mode", "1\x00garbage", 0)
	e.r("mode", "active-backup 1\n")
	// only the first line counts
	e.wraw("mode", "2\n3\n", 0)
	e.r("mode", "balance-xor 2\n")
	// 0xA0 is white space to the kernel
	e.wraw("mode", "\xa04\xa0", 0)
	e.r("mode", "802.3ad 4\n")
}
