package rtnl

import (
	"bytes"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
	"golang.org/x/sys/unix"
)

// Filter is the dump filter of an RTM_GETLINK dump request, as the kernel's
// rtnl_dump_ifinfo reads it: Master is IFLA_MASTER (an ifindex, 0 = no
// filter), Kind the IFLA_LINKINFO/IFLA_INFO_KIND ("" = no filter). The zero
// Filter keeps everything.
type Filter struct {
	Master int32
	Kind   string
}

func (f Filter) none() bool { return f.Master == 0 && f.Kind == "" }

// match is the kernel's link_dump_filtered, inverted: whether l stays.
func (f Filter) match(l *link) bool {
	if f.Master != 0 && l.master() != f.Master {
		return false
	}
	if f.Kind != "" && l.kind() != f.Kind {
		return false
	}
	return true
}

// ParseDumpFilter reads the filter of one RTM_GETLINK dump request (req is
// the whole message, header included). When the request carries a master
// or kind filter it returns the Filter, the request to send to the kernel
// instead, and true; otherwise a zero Filter, req and false.
//
// The stripped request lacks IFLA_MASTER and a kind "bond" IFLA_LINKINFO:
// the kernel cannot apply either (it knows neither the bond's ports nor a
// TAP as kind "bond"). A filter on another kind stays in the request (the
// kernel applies it) and is also returned, because a bond's TAP, which the
// kernel lists for kind "tun", must then be dropped after rewriting.
//
// As in rtnl_valid_dump_ifinfo_req, a request whose payload is shorter than
// an ifinfomsg has an rtgenmsg header (old iproute2). req is not modified;
// malformed requests give false.
func ParseDumpFilter(req []byte) (Filter, []byte, bool) {
	var msg netlink.Message
	if err := msg.UnmarshalBinary(req); err != nil {
		return Filter{}, req, false
	}
	if uint16(msg.Header.Type) != unix.RTM_GETLINK ||
		msg.Header.Flags&netlink.Dump != netlink.Dump {
		return Filter{}, req, false
	}
	hdr := ifinfoLen
	if len(msg.Data) < ifinfoLen {
		hdr = align4(unix.SizeofRtGenmsg)
	}
	if len(msg.Data) < hdr {
		return Filter{}, req, false
	}
	in, ok := decodeAttrs(msg.Data[hdr:])
	if !ok {
		return Filter{}, req, false
	}
	var f Filter
	var keep attrs
	stripped := false
	for _, a := range in {
		switch a.Type & attrTypeMask {
		case unix.IFLA_MASTER:
			if len(a.Data) >= 4 {
				f.Master = int32(nlenc.Uint32(a.Data[:4]))
			}
			stripped = true
			continue
		case unix.IFLA_LINKINFO:
			if k := requestKind(a.Data); k != "" {
				f.Kind = k
				if k == kindBond {
					stripped = true
					continue
				}
			}
		}
		keep = append(keep, a)
	}
	if f.none() && !stripped {
		return Filter{}, req, false
	}
	if !stripped {
		return f, req, true
	}
	body := append(append([]byte(nil), msg.Data[:hdr]...), keep.encode()...)
	msg.Header.Length = uint32(nlmsgHdrLen + len(body))
	msg.Data = body
	out, err := msg.MarshalBinary()
	if err != nil {
		return Filter{}, req, false
	}
	return f, out, true
}

// requestKind is IFLA_INFO_KIND inside a request's IFLA_LINKINFO, "" when
// none (the kernel's linkinfo_to_kind_ops reads only that attribute).
func requestKind(linkinfo []byte) string {
	li, ok := decodeAttrs(linkinfo)
	if !ok {
		return ""
	}
	if i := li.find(unix.IFLA_INFO_KIND); i >= 0 {
		return string(bytes.TrimRight(li[i].Data, "\x00"))
	}
	return ""
}
