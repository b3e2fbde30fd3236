// rtnlgo is a static Go program (CGO_ENABLED=0) that configures a bond with
// vishvananda/netlink only, for TestRtnlGoNetlink: it creates an
// active-backup bond, enslaves eth0 and eth1, and prints what it reads
// back.
package main

import (
	"fmt"
	"os"

	"github.com/vishvananda/netlink"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "rtnlgo:", err)
		os.Exit(1)
	}
}

func run() error {
	b := netlink.NewLinkBond(netlink.LinkAttrs{Name: "bond7"})
	b.Mode = netlink.BOND_MODE_ACTIVE_BACKUP
	b.Miimon = 100
	if err := netlink.LinkAdd(b); err != nil {
		return fmt.Errorf("LinkAdd: %w", err)
	}
	l, err := netlink.LinkByName("bond7")
	if err != nil {
		return err
	}
	for _, port := range []string{"eth0", "eth1"} {
		p, err := netlink.LinkByName(port)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetDown(p); err != nil {
			return err
		}
		if err := netlink.LinkSetMasterByIndex(p, l.Attrs().Index); err != nil {
			return fmt.Errorf("LinkSetMasterByIndex %s: %w", port, err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return err
	}
	l, err = netlink.LinkByName("bond7")
	if err != nil {
		return err
	}
	bond, ok := l.(*netlink.Bond)
	if !ok {
		return fmt.Errorf("bond7 reads back as %T (%s)", l, l.Type())
	}
	fmt.Printf("bond7: %s mode %s miimon %d\n", bond.Type(), bond.Mode, bond.Miimon)
	for _, port := range []string{"eth0", "eth1"} {
		p, err := netlink.LinkByName(port)
		if err != nil {
			return err
		}
		s, ok := p.Attrs().Slave.(*netlink.BondSlave)
		if !ok {
			return fmt.Errorf("%s: slave info %T", port, p.Attrs().Slave)
		}
		fmt.Printf("%s: master %v slave %s state %s mii %s\n", port, p.Attrs().MasterIndex == l.Attrs().Index, s.SlaveType(), s.State, s.MiiStatus)
	}
	return nil
}
