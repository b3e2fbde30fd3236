package rtnl

import (
	"encoding/binary"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Reply is what the kernel's netlink_ack sends for the request req (one
// message, header included) from the socket with portid: nil when err is
// nil and req did not ask for an ACK; else an NLMSG_ERROR with the errno
// (0 for an ACK) and a copy of the request: the header alone for an ACK or
// with capAck (NETLINK_CAP_ACK, flag NLM_F_CAPPED), the whole message
// otherwise; with extAck (NETLINK_EXT_ACK) the extack message follows as
// NLMSGERR_ATTR_MSG (flag NLM_F_ACK_TLVS).
func Reply(req []byte, portid uint32, err error, capAck, extAck bool) []byte {
	if len(req) < unix.SizeofNlMsghdr {
		return nil
	}
	flags := binary.NativeEndian.Uint16(req[6:8])
	seq := binary.NativeEndian.Uint32(req[8:12])
	var errno int32
	var msg string
	if err != nil {
		en, m := Errno(err)
		errno, msg = -int32(en), m
	} else if flags&unix.NLM_F_ACK == 0 {
		return nil
	}
	var replyFlags netlink.HeaderFlags
	echo := req
	if errno == 0 || capAck {
		echo = req[:unix.SizeofNlMsghdr]
		replyFlags |= unix.NLM_F_CAPPED
	}
	data := binary.NativeEndian.AppendUint32(nil, uint32(errno))
	data = append(data, echo...)
	if extAck && msg != "" {
		ae := netlink.NewAttributeEncoder()
		ae.String(unix.NLMSGERR_ATTR_MSG, msg)
		tlv, aerr := ae.Encode()
		if aerr == nil {
			data = append(data, tlv...)
			replyFlags |= unix.NLM_F_ACK_TLVS
		}
	}
	return marshal(netlink.Header{Type: netlink.Error, Flags: replyFlags, Sequence: seq, PID: portid}, data)
}
