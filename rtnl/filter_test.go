package rtnl

import (
	"bytes"
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// getlinkDump is an RTM_GETLINK dump request as iproute2's
// rtnl_linkdump_req_filter_fn builds it: ifinfomsg, IFLA_EXT_MASK, then the
// filter attributes.
func getlinkDump(master uint32, kind string) []byte {
	req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_DUMP)
	req.Seq = 42
	req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
	req.AddData(nl.NewRtAttr(unix.IFLA_EXT_MASK, nl.Uint32Attr(1)))
	if master != 0 {
		req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(master)))
	}
	if kind != "" {
		li := nl.NewRtAttr(unix.IFLA_LINKINFO|unix.NLA_F_NESTED, nil)
		li.AddRtAttr(nl.IFLA_INFO_KIND, []byte(kind))
		req.AddData(li)
	}
	return req.Serialize()
}

// master0 is a dump request with IFLA_MASTER 0, which the kernel reads as
// no filter.
func master0() []byte {
	req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_DUMP)
	req.Seq = 42
	req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
	req.AddData(nl.NewRtAttr(unix.IFLA_EXT_MASK, nl.Uint32Attr(1)))
	req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(0)))
	return req.Serialize()
}

func TestParseDumpFilter(t *testing.T) {
	plain := getlinkDump(0, "")
	for _, tc := range []struct {
		name    string
		req     []byte
		want    Filter
		ok      bool
		wantReq []byte
	}{
		{"no filter", plain, Filter{}, false, plain},
		{"master", getlinkDump(5, ""), Filter{Master: 5}, true, plain},
		{"kind bond", getlinkDump(0, "bond"), Filter{Kind: "bond"}, true, plain},
		{"master and kind bond", getlinkDump(5, "bond"), Filter{Master: 5, Kind: "bond"}, true, plain},
		{"kind veth stays for the kernel", getlinkDump(0, "veth"), Filter{Kind: "veth"}, true, getlinkDump(0, "veth")},
		{"master 0 is no filter but is stripped", master0(), Filter{}, true, plain},
	} {
		f, req, ok := ParseDumpFilter(tc.req)
		if f != tc.want || ok != tc.ok || !bytes.Equal(req, tc.wantReq) {
			t.Errorf("%s: got %+v %v\n% x\nwant %+v %v\n% x", tc.name, f, ok, req, tc.want, tc.ok, tc.wantReq)
		}
	}
}

func TestParseDumpFilterNotADump(t *testing.T) {
	req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_REQUEST)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = 5
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(5)))
	b := req.Serialize()
	if f, out, ok := ParseDumpFilter(b); ok || f != (Filter{}) || !bytes.Equal(out, b) {
		t.Errorf("a single RTM_GETLINK was taken for a dump: %+v %v", f, ok)
	}
	newlink := getlinkDump(5, "")
	newlink[4] = unix.RTM_NEWLINK
	if _, _, ok := ParseDumpFilter(newlink); ok {
		t.Error("RTM_NEWLINK taken for a dump request")
	}
}

// An old iproute2 (< 3.9) sends an rtgenmsg instead of an ifinfomsg; the
// kernel then reads the attributes after 4 bytes (rtnl_valid_dump_ifinfo_req).
func TestParseDumpFilterRtgenmsg(t *testing.T) {
	req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_DUMP)
	req.AddData(nl.NewRtGenMsg())
	req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(7)))
	b := req.Serialize()
	f, out, ok := ParseDumpFilter(b)
	if !ok || f.Master != 7 {
		t.Fatalf("got %+v %v", f, ok)
	}
	if len(out) != nlmsgHdrLen+4 || int(out[0]) != len(out) {
		t.Errorf("stripped request % x", out)
	}
}

func TestRewriteDumpFilters(t *testing.T) {
	snap := snap802(t)
	up := uint32(unix.IFF_UP | unix.IFF_BROADCAST | unix.IFF_MULTICAST)
	var in []byte
	in = append(in, tapMsg(5, "bond0", up, 7)...)
	in = append(in, vethMsg(6, "eth0", up, 7)...)
	in = append(in, vethMsg(7, "eth1", up, 7)...)
	in = append(in, vethMsg(8, "other", up, 7)...)
	in = append(in, doneMsg(7)...)
	names := func(out []byte) (got []string) {
		walk(out, func(m []byte, ok bool) {
			if !ok {
				t.Fatal("malformed output")
			}
			l, isLink := parseLink(m)
			if !isLink {
				got = append(got, "DONE")
				return
			}
			if l.hdr.Flags&unix.NLM_F_DUMP_FILTERED == 0 {
				t.Errorf("index %d lacks NLM_F_DUMP_FILTERED", l.index())
			}
			got = append(got, l.kind()+":"+string(rune('0'+l.index())))
		})
		return got
	}
	for _, tc := range []struct {
		f    Filter
		want string
	}{
		{Filter{Master: 5}, "[veth:6 veth:7 DONE]"},
		{Filter{Kind: "bond"}, "[bond:5 DONE]"},
		{Filter{Kind: "tun"}, "[DONE]"},
		{Filter{Kind: "veth", Master: 5}, "[veth:6 veth:7 DONE]"},
		{Filter{Master: 6}, "[DONE]"},
	} {
		if got := names(Rewrite(in, snap, tc.f)); fmtList(got) != tc.want {
			t.Errorf("%+v: got %v, want %s", tc.f, got, tc.want)
		}
	}
}

func fmtList(l []string) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, s := range l {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	b.WriteByte(']')
	return b.String()
}
