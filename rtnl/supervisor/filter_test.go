//go:build linux && (amd64 || arm64)

package supervisor

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// seccompData is a struct seccomp_data as x/net/bpf's VM reads it: the
// kernel loads native 32-bit words, the VM big-endian ones, so each word
// (an argument's low word first, as on little-endian) is stored big-endian.
func seccompData(arch uint32, nr int, args ...uint64) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[0:4], uint32(nr))
	binary.BigEndian.PutUint32(b[4:8], arch)
	for i, a := range args {
		binary.BigEndian.PutUint32(b[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(b[20+8*i:], uint32(a>>32))
	}
	return b
}

func TestProgram(t *testing.T) {
	raw, err := Program([]int{3, 7})
	require.NoError(t, err)
	ins, ok := bpf.Disassemble(raw)
	require.True(t, ok)
	vm, err := bpf.NewVM(ins)
	require.NoError(t, err)
	verdict := func(d []byte) uint32 {
		v, err := vm.Run(d)
		require.NoError(t, err)
		return uint32(v)
	}
	const allow, notify = unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_USER_NOTIF
	for _, c := range []struct {
		what string
		data []byte
		want uint32
	}{
		{"socket rtnl", seccompData(auditArch, unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE), notify},
		{"socket genl", seccompData(auditArch, unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_GENERIC), allow},
		{"socket inet", seccompData(auditArch, unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM, 0), allow},
		{"sendmsg in range", seccompData(auditArch, unix.SYS_SENDMSG, ReservedBase), notify},
		{"recvmsg range end", seccompData(auditArch, unix.SYS_RECVMSG, ReservedBase+ReservedCount-1), notify},
		{"recvfrom past range", seccompData(auditArch, unix.SYS_RECVFROM, ReservedBase+ReservedCount), allow},
		{"read below range", seccompData(auditArch, unix.SYS_READ, ReservedBase-1), allow},
		{"write inherited", seccompData(auditArch, unix.SYS_WRITE, 7), notify},
		{"sendto inherited", seccompData(auditArch, unix.SYS_SENDTO, 3), notify},
		{"sendto other", seccompData(auditArch, unix.SYS_SENDTO, 4), allow},
		{"high word ignored", seccompData(auditArch, unix.SYS_SENDTO, 1<<32|ReservedBase), notify},
		{"close in range", seccompData(auditArch, unix.SYS_CLOSE, ReservedBase), allow},
		{"other arch", seccompData(0x40000003, unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE), allow},
	} {
		assert.Equal(t, c.want, verdict(c.data), c.what)
	}
}

func TestSplit(t *testing.T) {
	m := make([]byte, 20)
	binary.NativeEndian.PutUint32(m, 18)
	two := append(append([]byte(nil), m...), m[:18]...)
	msgs, ok := split(two)
	require.True(t, ok)
	assert.Len(t, msgs, 2)
	_, ok = split(m[:10])
	assert.False(t, ok)
	binary.NativeEndian.PutUint32(m, 40)
	_, ok = split(m)
	assert.False(t, ok)
}

func TestCmsgs(t *testing.T) {
	creds := unix.UnixCredentials(&unix.Ucred{Pid: 77, Uid: 5, Gid: 6})
	pkt := unix.UnixRights(1)
	b := append(append([]byte(nil), pkt...), creds...)
	zeroCreds(b)
	cms, err := unix.ParseSocketControlMessage(b)
	require.NoError(t, err)
	require.Len(t, cms, 2)
	uc, err := unix.ParseUnixCredentials(&cms[1])
	require.NoError(t, err)
	assert.Equal(t, unix.Ucred{}, *uc)
	assert.Equal(t, pkt, cutCmsgs(b, len(pkt)+4))
	assert.Empty(t, cutCmsgs(b, 3))
}

func TestSetPktinfo(t *testing.T) {
	b := make([]byte, unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.SOL_NETLINK, unix.NETLINK_PKTINFO
	h.SetLen(unix.CmsgLen(4))
	b = append(b, unix.UnixCredentials(&unix.Ucred{Pid: 1})...)
	setPktinfo(b, unix.RTNLGRP_LINK)
	assert.Equal(t, uint32(unix.RTNLGRP_LINK), binary.NativeEndian.Uint32(b[unix.CmsgLen(0):]))
	assert.Len(t, b, unix.CmsgSpace(4)+unix.CmsgSpace(unix.SizeofUcred))
}
