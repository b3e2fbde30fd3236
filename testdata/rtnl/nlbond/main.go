// Command nlbond is a static (CGO_ENABLED=0) client of vishvananda/netlink
// for integration/rtnl_show_test.go: run under `bondingfs exec`, it reads a
// bond back as *netlink.Bond and its ports' BondSlave, and, with -create,
// first makes the bond and enslaves ports through LinkAdd and
// LinkSetMasterByIndex, as a Go program configuring bonds would.
//
//	nlbond [-create MODE] BOND PORT...
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/vishvananda/netlink"
)

func main() {
	create := flag.String("create", "", "create BOND in this mode (miimon 100) and enslave the PORTs first")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: nlbond [-create MODE] BOND PORT...")
		os.Exit(2)
	}
	name, ports := flag.Arg(0), flag.Args()[1:]
	if *create != "" {
		if err := build(name, *create, ports); err != nil {
			fmt.Println("create:", err)
			os.Exit(1)
		}
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		fmt.Println("LinkByName:", err)
		os.Exit(1)
	}
	b, ok := l.(*netlink.Bond)
	if !ok {
		fmt.Printf("%s is %T (type %s), not *netlink.Bond\n", name, l, l.Type())
		os.Exit(1)
	}
	fmt.Printf("bond %s mode=%s miimon=%d updelay=%d xmit_hash_policy=%s lacp_rate=%s min_links=%d active_slave=%s master_flag=%v\n",
		b.Name, b.Mode, b.Miimon, b.UpDelay, b.XmitHashPolicy, b.LacpRate, b.MinLinks, ifname(b.ActiveSlave),
		b.RawFlags&0x400 != 0)
	for _, p := range ports {
		pl, err := netlink.LinkByName(p)
		if err != nil {
			fmt.Println("LinkByName:", err)
			os.Exit(1)
		}
		a := pl.Attrs()
		s, ok := a.Slave.(*netlink.BondSlave)
		if !ok {
			fmt.Printf("port %s master=%s slave=%T\n", p, ifname(a.MasterIndex), a.Slave)
			continue
		}
		fmt.Printf("port %s master=%s state=%s mii=%s failures=%d perm=%s queue_id=%d\n",
			p, ifname(a.MasterIndex), s.State, s.MiiStatus, s.LinkFailureCount, s.PermHardwareAddr, s.QueueId)
	}
}

func ifname(idx int) string {
	if idx == 0 {
		return "-"
	}
	l, err := netlink.LinkByIndex(idx)
	if err != nil {
		return fmt.Sprint(idx)
	}
	return l.Attrs().Name
}

func build(name, mode string, ports []string) error {
	b := netlink.NewLinkBond(netlink.LinkAttrs{Name: name})
	b.Mode = netlink.StringToBondMode(mode)
	b.Miimon = 100
	if err := netlink.LinkAdd(b); err != nil {
		return fmt.Errorf("LinkAdd: %w", err)
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	for _, p := range ports {
		pl, err := netlink.LinkByName(p)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetDown(pl); err != nil {
			return err
		}
		if err := netlink.LinkSetMasterByIndex(pl, l.Attrs().Index); err != nil {
			return fmt.Errorf("LinkSetMasterByIndex %s: %w", p, err)
		}
	}
	return netlink.LinkSetUp(l)
}
