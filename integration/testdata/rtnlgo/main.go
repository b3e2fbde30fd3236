// rtnlgo is a static Go program (CGO_ENABLED=0) for the rtnetlink tests.
//
//	rtnlgo                  (TestRtnlGoNetlink) creates an active-backup bond
//	                        with vishvananda/netlink only, enslaves eth0 and
//	                        eth1, and prints what it reads back
//	rtnlgo activate CMD...  opens a NETLINK_ROUTE socket at fd 3 and execs
//	                        CMD with LISTEN_FDS=1, as systemd's socket
//	                        activation (ListenNetlink=route) does
//	rtnlgo listen           (TestRtnlSocketActivation) takes fd 3 as
//	                        sd_listen_fds does, creates bond9 over it and
//	                        prints the kind a dump over it shows, and
//	                        bonding_masters
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	mnl "github.com/mdlayher/netlink"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 2 && os.Args[1] == "activate":
		err = activate(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "listen":
		err = listen()
	default:
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtnlgo:", err)
		os.Exit(1)
	}
}

func activate(cmd []string) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	if fd != 3 {
		if err := unix.Dup3(fd, 3, 0); err != nil {
			return err
		}
		unix.Close(fd)
	}
	os.Setenv("LISTEN_FDS", "1")
	os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	return syscall.Exec(cmd[0], cmd, os.Environ())
}

func listen() error {
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) || os.Getenv("LISTEN_FDS") != "1" {
		return fmt.Errorf("LISTEN_PID=%s (pid %d) LISTEN_FDS=%s", os.Getenv("LISTEN_PID"), os.Getpid(), os.Getenv("LISTEN_FDS"))
	}
	const fd = 3
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	// RTM_NEWLINK bond9 kind bond mode active-backup
	ae := mnl.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, "bond9")
	ae.Do(unix.IFLA_LINKINFO, func() ([]byte, error) {
		li := mnl.NewAttributeEncoder()
		li.String(unix.IFLA_INFO_KIND, "bond")
		li.Do(unix.IFLA_INFO_DATA, func() ([]byte, error) {
			d := mnl.NewAttributeEncoder()
			d.Uint8(unix.IFLA_BOND_MODE, 1)
			return d.Encode()
		})
		return li.Encode()
	})
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	body := append(make([]byte, unix.SizeofIfInfomsg), attrs...)
	if err := send(fd, mnl.Header{Type: unix.RTM_NEWLINK, Flags: mnl.Request | mnl.Acknowledge | mnl.Create | mnl.Excl, Sequence: 1}, body); err != nil {
		return err
	}
	msgs, err := recv(fd)
	if err != nil {
		return err
	}
	if len(msgs) != 1 || msgs[0].Header.Type != mnl.Error || len(msgs[0].Data) < 4 || binary.NativeEndian.Uint32(msgs[0].Data) != 0 {
		return fmt.Errorf("no ACK: %+v", msgs)
	}
	fmt.Println("bond9 created over fd 3")
	// a dump over the same fd shows it as a bond
	ae = mnl.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, "bond9")
	attrs, _ = ae.Encode()
	if err := send(fd, mnl.Header{Type: unix.RTM_GETLINK, Flags: mnl.Request, Sequence: 2}, append(make([]byte, unix.SizeofIfInfomsg), attrs...)); err != nil {
		return err
	}
	if msgs, err = recv(fd); err != nil {
		return err
	}
	if len(msgs) != 1 || len(msgs[0].Data) < unix.SizeofIfInfomsg {
		return errors.New("no RTM_NEWLINK for bond9")
	}
	ad, err := mnl.NewAttributeDecoder(msgs[0].Data[unix.SizeofIfInfomsg:])
	if err != nil {
		return err
	}
	for ad.Next() {
		if ad.Type() == unix.IFLA_LINKINFO {
			ad.Nested(func(nad *mnl.AttributeDecoder) error {
				for nad.Next() {
					if nad.Type() == unix.IFLA_INFO_KIND {
						fmt.Println("bond9 kind", nad.String())
					}
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return err
	}
	m, err := os.ReadFile("/sys/class/net/bonding_masters")
	fmt.Printf("bonding_masters: %s", m)
	return err
}

func send(fd int, h mnl.Header, body []byte) error {
	h.Length = uint32(unix.SizeofNlMsghdr + len(body))
	b, err := mnl.Message{Header: h, Data: body}.MarshalBinary()
	if err != nil {
		return err
	}
	return unix.Sendto(fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

func recv(fd int) ([]mnl.Message, error) {
	b := make([]byte, 65536)
	n, _, err := unix.Recvfrom(fd, b, 0)
	if err != nil {
		return nil, err
	}
	nms, err := syscall.ParseNetlinkMessage(b[:n])
	if err != nil {
		return nil, err
	}
	var out []mnl.Message
	for _, m := range nms {
		out = append(out, mnl.Message{Header: mnl.Header{Type: mnl.HeaderType(m.Header.Type), Flags: mnl.HeaderFlags(m.Header.Flags), Sequence: m.Header.Seq}, Data: m.Data})
	}
	return out, nil
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
