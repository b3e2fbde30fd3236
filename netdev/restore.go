package netdev

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

var _ bond.SlaveDevOrigins = (*SlaveDev)(nil)

// Origins returns what the device's isolation changed: the interface's
// disable_ipv6 value before it ("" when the sysctl did not exist) and the
// name of its nftables ingress chain in table NftTable.
func (p *SlaveDev) Origins() (disableIPv6, nftChain string) { return p.oldV6, p.chain }

// Unisolate undoes the isolation of an interface that a daemon which died
// left enslaved: it deletes the nftables ingress chain nftChain (and the
// table once empty) and, unless disableIPv6 is "", writes it back to
// net.ipv6.conf.<ifname>.disable_ipv6. Missing objects are not errors.
func (h *Host) Unisolate(ifname, disableIPv6, nftChain string) error {
	var errs []error
	if nftChain != "" {
		errs = append(errs, unisolate(h.ns, &h.nftMu, nftChain))
	}
	if disableIPv6 != "" && ifname != "" {
		errs = append(errs, setDisableIPv6(h.ns, ifname, disableIPv6, nil))
	}
	return errors.Join(errs...)
}

// Addrs returns the addresses of the interface with ifindex index that
// someone configured (RTM_GETADDR, both families), as CIDR strings
// ("192.0.2.1/24"), leaving out IPv6 link-local ones, which the kernel makes
// by itself.
func (h *Host) Addrs(index int) ([]string, error) {
	as, err := h.nl.AddrList(byIndex(index), unix.AF_UNSPEC)
	if err != nil {
		return nil, noDev("addr", index, err)
	}
	var out []string
	for _, a := range as {
		if a.IPNet == nil || a.IP.IsLinkLocalUnicast() {
			continue
		}
		out = append(out, a.IPNet.String())
	}
	return out, nil
}

// AddAddr adds the address cidr ("192.0.2.1/24") to the interface with
// ifindex index; an address already there is not an error.
func (h *Host) AddAddr(index int, cidr string) error {
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		return fmt.Errorf("netdev: address %q: %w", cidr, syscall.EINVAL)
	}
	if err := h.nl.AddrAdd(byIndex(index), a); err != nil && !errors.Is(err, syscall.EEXIST) {
		return noDev("addr add", index, err)
	}
	return nil
}

// SubscribeAddrs calls fn with the ifindex of every address change
// (RTM_NEWADDR, RTM_DELADDR) in the Host's namespace, from one goroutine,
// until done is closed or the Host is closed.
func (h *Host) SubscribeAddrs(done <-chan struct{}, fn func(index int)) error {
	ch := make(chan netlink.AddrUpdate, 64)
	stop := make(chan struct{})
	opts := netlink.AddrSubscribeOptions{}
	if h.ns.fd >= 0 {
		hd := h.ns.handle()
		opts.Namespace = &hd
	}
	if err := netlink.AddrSubscribeWithOptions(ch, stop, opts); err != nil {
		return fmt.Errorf("netdev: address subscription: %w", err)
	}
	go func() {
		defer close(stop)
		for {
			select {
			case u, ok := <-ch:
				if !ok {
					return
				}
				fn(u.LinkIndex)
			case <-done:
				return
			case <-h.closed:
				return
			}
		}
	}()
	return nil
}

// HWAddr parses a MAC address for the restore code ("" → nil).
func HWAddr(s string) net.HardwareAddr {
	m, _ := net.ParseMAC(s)
	return m
}
