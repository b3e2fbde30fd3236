package fusefs

import (
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// linkMsg builds one RTM_NEWLINK (or RTM_DELLINK) message for ifindex
// index named name, as rtnetlink sends it.
func linkMsg(typ uint16, index int32, name string) []byte {
	attr := make([]byte, 4+len(name)+1)
	binary.NativeEndian.PutUint16(attr[0:2], uint16(len(attr)))
	binary.NativeEndian.PutUint16(attr[2:4], unix.IFLA_IFNAME)
	copy(attr[4:], name)
	for len(attr)%4 != 0 {
		attr = append(attr, 0)
	}
	body := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(body[4:8], uint32(index))
	body = append(body, attr...)
	h := make([]byte, unix.SizeofNlMsghdr)
	binary.NativeEndian.PutUint32(h[0:4], uint32(len(h)+len(body)))
	binary.NativeEndian.PutUint16(h[4:6], typ)
	return append(h, body...)
}

func TestLinkNames(t *testing.T) {
	b := append(linkMsg(unix.RTM_NEWLINK, 7, "eth0"), linkMsg(unix.RTM_DELLINK, 9, "bond0")...)
	b = append(b, linkMsg(unix.RTM_NEWADDR, 3, "x")...)
	names, idx := linkNames(b)
	if strings.Join(names, ",") != "eth0,bond0" || len(idx) != 2 || idx[0] != 7 || idx[1] != 9 {
		t.Errorf("linkNames = %v %v", names, idx)
	}
	if n, _ := linkNames(b[:10]); n != nil {
		t.Errorf("a cut datagram gave %v", n)
	}
}

// FuzzLinkNames: any datagram decodes without panicking, one index per
// name, and no name holds a NUL.
func FuzzLinkNames(f *testing.F) {
	f.Add(linkMsg(unix.RTM_NEWLINK, 2, "eth0"))
	f.Add(append(linkMsg(unix.RTM_DELLINK, 3, "bond0"), linkMsg(unix.RTM_NEWLINK, 4, "br0")...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		names, idx := linkNames(b)
		if len(names) != len(idx) {
			t.Fatalf("%d names, %d indexes", len(names), len(idx))
		}
		for _, n := range names {
			if strings.ContainsRune(n, 0) && !strings.HasSuffix(n, "\x00") {
				continue // a NUL inside the attribute is the sender's
			}
			if strings.HasSuffix(n, "\x00") {
				t.Fatalf("name %q keeps its terminating NUL", n)
			}
		}
	})
}
