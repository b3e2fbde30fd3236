package main

import (
	"fmt"
	"io"
	"strings"
	"syscall"
)

// enslaver carries out one command, following main() of ifenslave.c
// v1.1.0 step by step; each ioctl is replaced by its sysfs counterpart:
//
//	SIOCGIFFLAGS/SIOCSIFFLAGS  <dev>/flags
//	SIOCGIFMTU/SIOCSIFMTU      <dev>/mtu
//	SIOCGIFHWADDR              <dev>/type, <dev>/address
//	IFF_MASTER                 <dev>/bonding/ exists
//	IFF_SLAVE                  <dev>/bonding_slave/ exists
//	SIOCBONDENSLAVE            "+slave" > <master>/bonding/slaves
//	SIOCBONDRELEASE            "-slave" > <master>/bonding/slaves
//	SIOCBONDCHANGEACTIVE       "slave" > <master>/bonding/active_slave
type enslaver struct {
	fs             sysfs
	o              opts
	stdout, stderr io.Writer

	master devInfo
}

// vprint prints to stderr only with -v (ifenslave.c's v_print).
func (e *enslaver) vprint(format string, args ...any) {
	if e.o.verbose {
		fmt.Fprintf(e.stderr, format, args...)
	}
}

func (e *enslaver) errorf(format string, args ...any) {
	fmt.Fprintf(e.stderr, format, args...)
}

// exitCode maps an error to the status ifenslave.c returns for it: the
// errno of a failed get_if_settings, else 1.
func exitCode(err error) int {
	if en, ok := err.(syscall.Errno); ok && en != 0 {
		return int(en)
	}
	return 1
}

func (e *enslaver) main(master string, slaves []string) int {
	// The ABI handshake (ETHTOOL_GDRVINFO) fails only when the master does
	// not exist; a bonding master answers ABI version 2.
	if !e.fs.isDir(master) {
		e.vprint("Master '%s': Error: get bonding info failed %s\n", master, strerror(syscall.ENODEV))
		e.errorf("Master '%s': Error: handshake with driver failed. Aborting\n", master)
		return 1
	}
	abi := 0
	if e.fs.isDir(master + "/bonding") {
		abi = 2
	}
	e.vprint("ABI ver is %d\n", abi)

	if len(slaves) == 0 {
		if e.o.detach || e.o.change {
			fmt.Fprint(e.stderr, usageMsg)
			return 2
		}
		e.print(master)
		return 0
	}

	var err error
	if e.master, err = readInfo(e.fs, master); err != nil {
		e.errorf("Master '%s': Error: get settings failed: %s. Aborting\n", master, strerror(err))
		return exitCode(err)
	}
	if abi == 0 {
		e.errorf("Illegal operation; the specified interface '%s' is not a master. Aborting\n", master)
		return 1
	}
	if e.master.flags&iffUp == 0 {
		e.errorf("Illegal operation; the specified master interface '%s' is not up.\n", master)
		return 1
	}

	if !e.o.change && !e.o.detach {
		if e.master.family != arphrdEth && !e.o.force {
			e.errorf("Illegal operation: The specified master interface '%s' is not ethernet-like.\n "+
				"This program is designed to work with ethernet-like network interfaces.\n "+
				"Use the '-f' option to force the operation.\n", master)
			return 1
		}
		if hwaddrSet(e.master.hwaddr) {
			e.vprint("current hardware address of master '%s' is %s, type %d\n",
				master, e.master.hwaddr, e.master.family)
		}
	}

	if e.o.change {
		if len(slaves) != 1 {
			fmt.Fprint(e.stderr, usageMsg)
			return 2
		}
		slave := slaves[0]
		if !e.slaveFlags(slave) {
			e.errorf("Slave '%s': Error: get flags failed. Aborting\n", slave)
			return 1
		}
		if res := e.changeActive(master, slave); res != 0 {
			e.errorf("Master '%s', Slave '%s': Error: Change active failed\n", master, slave)
			return res
		}
		return 0
	}

	res := 0
	for _, slave := range slaves {
		if e.o.detach {
			if !e.slaveFlags(slave) {
				e.errorf("Slave '%s': Error: get flags failed. Skipping\n", slave)
				res = 1
				continue
			}
			if rv := e.release(master, slave); rv != 0 {
				e.errorf("Master '%s', Slave '%s': Error: Release failed\n", master, slave)
				res = rv
			}
			continue
		}
		si, err := readInfo(e.fs, slave)
		if err != nil {
			e.vprint("Interface '%s': Error: get settings failed: %s\n", slave, strerror(err))
			e.errorf("Slave '%s': Error: get settings failed: %s. Skipping\n", slave, strerror(err))
			res = exitCode(err)
			continue
		}
		if rv := e.enslave(master, slave, si); rv != 0 {
			e.errorf("Master '%s', Slave '%s': Error: Enslave failed\n", master, slave)
			res = rv
		}
	}
	return res
}

// slaveFlags reads the slave's flags as get_slave_flags does.
func (e *enslaver) slaveFlags(slave string) bool {
	flags, err := readFlags(e.fs, slave)
	if err != nil {
		e.vprint("Slave '%s': Error: SIOCGIFFLAGS failed: %s\n", slave, strerror(err))
		return false
	}
	e.vprint("Slave %s: flags %04X.\n", slave, flags)
	return true
}

func (e *enslaver) isSlave(dev string) bool { return e.fs.isDir(dev + "/bonding_slave") }

func (e *enslaver) changeActive(master, slave string) int {
	if !e.isSlave(slave) {
		e.errorf("Illegal operation: The specified slave interface '%s' is not a slave\n", slave)
		return 1
	}
	if err := e.fs.write(master+"/bonding/active_slave", slave); err != nil {
		e.vprint("Master '%s': Error: SIOCBONDCHANGEACTIVE failed: %s\n", master, strerror(err))
		return 1
	}
	return 0
}

// setFlags writes <dev>/flags (SIOCSIFFLAGS).
func (e *enslaver) setFlags(dev string, flags uint64) error {
	err := e.fs.write(dev+"/flags", fmt.Sprintf("0x%x", flags))
	if err != nil {
		e.vprint("Interface '%s': Error: SIOCSIFFLAGS failed: %s\n", dev, strerror(err))
	} else {
		e.vprint("Interface '%s': flags set to %04X.\n", dev, flags)
	}
	return err
}

func (e *enslaver) setMTU(dev string, mtu int) error {
	err := e.fs.write(dev+"/mtu", fmt.Sprint(mtu))
	if err != nil {
		e.vprint("Slave '%s': Error: SIOCSIFMTU failed: %s\n", dev, strerror(err))
	} else {
		e.vprint("Slave '%s': MTU set to %d.\n", dev, mtu)
	}
	return err
}

// enslave follows ifenslave.c's enslave() for a driver of ABI version 2:
// the slave is set down, given the master's MTU and handed to the driver,
// which gives the master the first slave's MAC address (or the master's to
// the slave) and opens the slave. Should the slave still be down
// afterwards, it is brought up.
func (e *enslaver) enslave(master, slave string, si devInfo) int {
	if e.isSlave(slave) {
		e.errorf("Illegal operation: The specified slave interface '%s' is already a slave\n", slave)
		return 1
	}
	if si.flags&iffUp != 0 {
		if err := e.setFlags(slave, si.flags&^iffUp); err != nil {
			e.errorf("Slave '%s': Error: bring interface down failed\n", slave)
			return 1
		}
	}
	if e.master.mtu != si.mtu {
		if err := e.setMTU(slave, e.master.mtu); err != nil {
			e.errorf("Slave '%s': Error: set MTU failed\n", slave)
			return 1
		}
	}
	if err := e.fs.write(master+"/bonding/slaves", "+"+slave); err != nil {
		e.vprint("Master '%s': Error: SIOCBONDENSLAVE failed: %s\n", master, strerror(err))
		if e.master.mtu != si.mtu {
			_ = e.setMTU(slave, si.mtu)
		}
		return 1
	}
	if flags, err := readFlags(e.fs, slave); err == nil && flags&iffUp == 0 {
		_ = e.setFlags(slave, flags|iffUp)
	}
	if !hwaddrSet(e.master.hwaddr) {
		if a, err := e.fs.read(master + "/address"); err == nil {
			e.master.hwaddr = a
			e.vprint("Master '%s': hardware address set to %s.\n", master, a)
		}
	}
	return 0
}

// release follows ifenslave.c's release(): the driver releases the slave
// (and, ABI version 2, closes it), then the slave gets the default MTU.
func (e *enslaver) release(master, slave string) int {
	if !e.isSlave(slave) {
		e.errorf("Illegal operation: The specified slave interface '%s' is not a slave\n", slave)
		return 1
	}
	if err := e.fs.write(master+"/bonding/slaves", "-"+slave); err != nil {
		e.vprint("Master '%s': Error: SIOCBONDRELEASE failed: %s\n", master, strerror(err))
		return 1
	}
	_ = e.setMTU(slave, 1500)
	return 0
}

// print shows one interface as if_getconfig does: its flags and hardware
// address. The IPv4 address line (SIOCGIFADDR) has no sysfs counterpart and
// is left out.
func (e *enslaver) print(dev string) {
	d, err := readInfo(e.fs, dev)
	if err != nil {
		e.errorf("%s: unknown interface.\n", dev)
		return
	}
	fmt.Fprintf(e.stdout, "The result of SIOCGIFFLAGS on %s is %x.\n", dev, d.flags)
	fmt.Fprintf(e.stdout, "The result of SIOCGIFHWADDR is type %d  %s.\n", d.family, strings.ToLower(d.hwaddr))
}

// printAll shows every interface (-a).
func (e *enslaver) printAll() {
	devs, err := e.fs.devices()
	if err != nil {
		e.errorf("SIOCGIFCONF failed: %s\n", strerror(err))
		return
	}
	for _, d := range devs {
		e.print(d)
	}
}
