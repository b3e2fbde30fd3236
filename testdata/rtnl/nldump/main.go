// Command nldump prints the kernel's rtnetlink link messages in
// rtnl/nltext's form, for the kernel-oracle goldens of issue 17. It runs
// inside the 6.1 oracle VM (testdata/rtnl/record.sh embeds it, statically
// linked, in the scenario).
//
//	nldump DEV...             RTM_GETLINK dump (IFLA_EXT_MASK RTEXT_FILTER_VF, as
//	                          `ip -d link show`), the messages of DEV... in dump order
//	nldump -master DEV        dump with the IFLA_MASTER filter: every name returned
//	nldump -monitor SECONDS   RTNLGRP_LINK events for SECONDS seconds
//	nldump -stats DEV         RTM_GETSTATS of DEV with IFLA_STATS_LINK_XSTATS and
//	                          _XSTATS_SLAVE: the attribute tree with types and sizes
//	                          (the counters' values vary from run to run)
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
	"golang.org/x/sys/unix"

	"bondingfs/rtnl/nltext"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: nldump DEV... | -master DEV | -monitor SECONDS")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "-master":
		err = dumpMaster(os.Args[2])
	case "-monitor":
		err = monitor(os.Args[2])
	case "-stats":
		err = stats(os.Args[2])
	default:
		err = dump(os.Args[1:])
	}
	if err != nil {
		fmt.Println("nldump:", err)
		os.Exit(1)
	}
}

func request(attrs []netlink.Attribute) netlink.Message {
	body := make([]byte, unix.SizeofIfInfomsg)
	a, _ := netlink.MarshalAttributes(attrs)
	return netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump},
		Data:   append(body, a...),
	}
}

func execute(attrs []netlink.Attribute) ([]netlink.Message, error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Execute(request(attrs))
}

func raw(m netlink.Message) []byte {
	b, err := m.MarshalBinary()
	if err != nil {
		return nil
	}
	return b
}

func name(m netlink.Message) string {
	as, err := netlink.UnmarshalAttributes(m.Data[unix.SizeofIfInfomsg:])
	if err != nil {
		return "?"
	}
	for _, a := range as {
		if a.Type == unix.IFLA_IFNAME {
			return nlenc.String(a.Data)
		}
	}
	return "?"
}

func extMask() netlink.Attribute {
	return netlink.Attribute{Type: unix.IFLA_EXT_MASK, Data: nlenc.Uint32Bytes(rtextFilterVF)}
}

func dump(devs []string) error {
	msgs, err := execute([]netlink.Attribute{extMask()})
	if err != nil {
		return err
	}
	for _, d := range devs {
		found := false
		for _, m := range msgs {
			if name(m) == d {
				fmt.Printf("link %s\n%s", d, nltext.Link(raw(m), nltext.Normalise))
				found = true
			}
		}
		if !found {
			fmt.Printf("link %s (none)\n", d)
		}
	}
	return nil
}

func dumpMaster(dev string) error {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return err
	}
	msgs, err := execute([]netlink.Attribute{extMask(),
		{Type: unix.IFLA_MASTER, Data: nlenc.Uint32Bytes(uint32(ifi.Index))}})
	if err != nil {
		return err
	}
	fmt.Printf("dump master %s: %d links\n", dev, len(msgs))
	for _, m := range msgs {
		fmt.Printf(" %s flags=%#x\n", name(m), uint16(m.Header.Flags))
	}
	return nil
}

func monitor(secs string) error {
	n, err := strconv.Atoi(secs)
	if err != nil {
		return err
	}
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{Groups: unix.RTMGRP_LINK})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetReadDeadline(time.Now().Add(time.Duration(n) * time.Second)); err != nil {
		return err
	}
	fmt.Println("monitor ready")
	for {
		msgs, err := c.Receive()
		if err != nil {
			return nil // the deadline
		}
		for _, m := range msgs {
			fmt.Printf("event %s\n", name(m))
			// the state and the bond's part; counters and constants left out
			for _, l := range strings.SplitAfter(nltext.Link(raw(m), nltext.Normalise), "\n") {
				if strings.HasPrefix(l, "msg ") || strings.HasPrefix(l, "  ") ||
					strings.Contains(l, " OPERSTATE ") || strings.Contains(l, " CARRIER ") ||
					strings.Contains(l, " MASTER ") || strings.Contains(l, " EVENT ") ||
					strings.Contains(l, " LINKINFO") {
					fmt.Print(l)
				}
			}
		}
	}
}

// rtextFilterVF is RTEXT_FILTER_VF (include/uapi/linux/rtnetlink.h), the
// mask `ip link show` sends.
const rtextFilterVF = 1

func stats(dev string) error {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return err
	}
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	// struct if_stats_msg: family, pad1, pad2, ifindex, filter_mask
	body := make([]byte, 12)
	nlenc.PutUint32(body[4:8], uint32(ifi.Index))
	nlenc.PutUint32(body[8:12], 1<<(unix.IFLA_STATS_LINK_XSTATS-1)|1<<(unix.IFLA_STATS_LINK_XSTATS_SLAVE-1))
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETSTATS, Flags: netlink.Request},
		Data:   body,
	})
	if err != nil {
		return err
	}
	for _, m := range msgs {
		fmt.Printf("stats %s %s", dev, nltext.StatsShape(raw(m)))
	}
	return nil
}
