package lacp

import (
	"encoding/binary"
	"errors"
)

// Slow Protocols framing (IEEE 802.3 Annex 57A) as the kernel's bond_3ad.c
// sends and accepts it.
const (
	// EtherTypeSlow is the Slow Protocols EtherType (ETH_P_SLOW).
	EtherTypeSlow = 0x8809
	// SubtypeLACP is the Slow Protocols subtype of an LACPDU
	// (802.1AX-2014 §6.4.2.3; the kernel's AD_TYPE_LACPDU).
	SubtypeLACP = 1
	// SubtypeMarker is the Slow Protocols subtype of a Marker PDU
	// (802.1AX-2014 §6.5.3; AD_TYPE_MARKER).
	SubtypeMarker = 2

	// MarkerInformation and MarkerResponse are the TLV types of a Marker
	// PDU (AD_MARKER_INFORMATION_SUBTYPE, AD_MARKER_RESPONSE_SUBTYPE).
	MarkerInformation = 1
	MarkerResponse    = 2

	// PDULen is the length in bytes of an LACPDU and of a Marker PDU after
	// the Ethernet header (sizeof(struct lacpdu) == sizeof(struct
	// bond_marker) == 110). The kernel counts a shorter Slow Protocols
	// frame as lacpdu_illegal_rx.
	PDULen = 110
	// HeaderLen is the length of the untagged Ethernet header.
	HeaderLen = 14
	// FrameLen is the length of every frame the kernel (and System) sends:
	// Ethernet header plus a 110-byte PDU.
	FrameLen = HeaderLen + PDULen
)

// SlowProtocolsAddr is the Slow Protocols multicast address every LACPDU and
// Marker PDU is sent to (MULTICAST_LACPDU_ADDR, 01:80:c2:00:00:02).
var SlowProtocolsAddr = [6]byte{0x01, 0x80, 0xc2, 0x00, 0x00, 0x02}

// Codec errors.
var (
	// ErrShortBuffer: the destination buffer cannot hold the encoded PDU
	// or frame (PDULen or FrameLen bytes).
	ErrShortBuffer = errors.New("lacp: buffer too short")
	// ErrTruncated: fewer than PDULen bytes of PDU.
	ErrTruncated = errors.New("lacp: truncated PDU")
	// ErrSubtype: the Slow Protocols subtype is not the one asked for.
	ErrSubtype = errors.New("lacp: wrong Slow Protocols subtype")
	// ErrNotSlow: the frame is not a Slow Protocols frame to
	// SlowProtocolsAddr.
	ErrNotSlow = errors.New("lacp: not a Slow Protocols frame to 01:80:c2:00:00:02")
)

// Port state bits of an LACPDU's Actor_State/Partner_State
// (802.1AX-2014 §6.4.2.3; the kernel's LACP_STATE_*).
const (
	StateActivity        = 0x01
	StateTimeout         = 0x02
	StateAggregation     = 0x04
	StateSynchronization = 0x08
	StateCollecting      = 0x10
	StateDistributing    = 0x20
	StateDefaulted       = 0x40
	StateExpired         = 0x80
)

// PDUInfo is one Actor or Partner Information TLV of an LACPDU: the
// parameters of one end of a link (802.1AX-2014 §6.4.2.3).
type PDUInfo struct {
	SystemPriority uint16
	System         [6]byte
	Key            uint16
	PortPriority   uint16
	Port           uint16
	State          uint8
}

// LACPDU is the body of a Link Aggregation Control PDU (struct lacpdu in
// bond_3ad.h) after the Ethernet header. Like the kernel, decoding reads the
// fields at their fixed offsets and does not check the TLV types, lengths
// or reserved bytes; encoding writes the values the kernel writes there
// (TLV types 1, 2, 3, 0 with lengths 20, 20, 16, 0, zero reserved bytes).
type LACPDU struct {
	Version           uint8 // the kernel sends 1
	Actor             PDUInfo
	Partner           PDUInfo
	CollectorMaxDelay uint16 // in tens of µs; the kernel sends 0
}

// Marker is the body of a Marker PDU (struct bond_marker) after the
// Ethernet header (802.1AX-2014 §6.5.3.3).
type Marker struct {
	Version         uint8 // the kernel's responses copy the requester's
	TLVType         uint8 // MarkerInformation or MarkerResponse
	RequesterPort   uint16
	RequesterSystem [6]byte
	TransactionID   uint32
}

// LACPDU body offsets.
const (
	offActor     = 4
	offPartner   = 24
	offCollector = 42
	offTerm      = 58
)

func decodeInfo(b []byte) PDUInfo {
	var in PDUInfo
	in.SystemPriority = binary.BigEndian.Uint16(b[0:2])
	copy(in.System[:], b[2:8])
	in.Key = binary.BigEndian.Uint16(b[8:10])
	in.PortPriority = binary.BigEndian.Uint16(b[10:12])
	in.Port = binary.BigEndian.Uint16(b[12:14])
	in.State = b[14]
	return in
}

func encodeInfo(b []byte, in *PDUInfo) {
	binary.BigEndian.PutUint16(b[0:2], in.SystemPriority)
	copy(b[2:8], in.System[:])
	binary.BigEndian.PutUint16(b[8:10], in.Key)
	binary.BigEndian.PutUint16(b[10:12], in.PortPriority)
	binary.BigEndian.PutUint16(b[12:14], in.Port)
	b[14] = in.State
	b[15], b[16], b[17] = 0, 0, 0
}

// DecodeLACPDU decodes the first PDULen bytes of b, an LACPDU body (the
// Ethernet payload). It fails with ErrTruncated when b is shorter and with
// ErrSubtype when b[0] is not SubtypeLACP; bytes after PDULen are ignored.
func DecodeLACPDU(b []byte) (LACPDU, error) {
	var p LACPDU
	if len(b) < PDULen {
		return p, ErrTruncated
	}
	if b[0] != SubtypeLACP {
		return p, ErrSubtype
	}
	p.decode(b)
	return p, nil
}

// decode fills p from a body known to be at least PDULen bytes.
func (p *LACPDU) decode(b []byte) {
	p.Version = b[1]
	p.Actor = decodeInfo(b[offActor:])
	p.Partner = decodeInfo(b[offPartner:])
	p.CollectorMaxDelay = binary.BigEndian.Uint16(b[offCollector+2:])
}

// MarshalTo encodes p into the first PDULen bytes of b and returns PDULen.
// It does not allocate; it fails with ErrShortBuffer when len(b) < PDULen.
func (p *LACPDU) MarshalTo(b []byte) (int, error) {
	if len(b) < PDULen {
		return 0, ErrShortBuffer
	}
	b = b[:PDULen]
	clear(b)
	b[0] = SubtypeLACP
	b[1] = p.Version
	b[2], b[3] = 1, 20
	encodeInfo(b[offActor:], &p.Actor)
	b[22], b[23] = 2, 20
	encodeInfo(b[offPartner:], &p.Partner)
	b[offCollector], b[offCollector+1] = 3, 16
	binary.BigEndian.PutUint16(b[offCollector+2:], p.CollectorMaxDelay)
	b[offTerm], b[offTerm+1] = 0, 0
	return PDULen, nil
}

// DecodeMarker decodes the first PDULen bytes of b, a Marker PDU body. It
// fails with ErrTruncated when b is shorter and with ErrSubtype when b[0]
// is not SubtypeMarker. Any TLVType is accepted: the kernel counts types
// other than MarkerInformation and MarkerResponse as marker_unknown_rx.
func DecodeMarker(b []byte) (Marker, error) {
	var m Marker
	if len(b) < PDULen {
		return m, ErrTruncated
	}
	if b[0] != SubtypeMarker {
		return m, ErrSubtype
	}
	m.Version = b[1]
	m.TLVType = b[2]
	m.RequesterPort = binary.BigEndian.Uint16(b[4:6])
	copy(m.RequesterSystem[:], b[6:12])
	m.TransactionID = binary.BigEndian.Uint32(b[12:16])
	return m, nil
}

// MarshalTo encodes m into the first PDULen bytes of b (Marker TLV length
// 16, zero pad, terminator TLV, zero reserved bytes) and returns PDULen. It
// does not allocate; it fails with ErrShortBuffer when len(b) < PDULen.
func (m *Marker) MarshalTo(b []byte) (int, error) {
	if len(b) < PDULen {
		return 0, ErrShortBuffer
	}
	b = b[:PDULen]
	clear(b)
	b[0] = SubtypeMarker
	b[1] = m.Version
	b[2] = m.TLVType
	b[3] = 0x10
	binary.BigEndian.PutUint16(b[4:6], m.RequesterPort)
	copy(b[6:12], m.RequesterSystem[:])
	binary.BigEndian.PutUint32(b[12:16], m.TransactionID)
	return PDULen, nil
}

// SlowPayload returns the Slow Protocols payload of the Ethernet frame
// (destination, source, EtherType, payload; no FCS), the way
// bond_3ad_lacpdu_recv sees it: the EtherType must be EtherTypeSlow and
// the destination SlowProtocolsAddr, else ErrNotSlow. One 802.1Q or
// 802.1ad tag is skipped first, as the kernel untags a frame before the
// bond's rx handler sees it. The payload may be shorter than PDULen.
func SlowPayload(frame []byte) ([]byte, error) {
	if len(frame) < HeaderLen {
		return nil, ErrNotSlow
	}
	off := 12
	et := binary.BigEndian.Uint16(frame[off:])
	if et == 0x8100 || et == 0x88a8 {
		if len(frame) < HeaderLen+4 {
			return nil, ErrNotSlow
		}
		off += 4
		et = binary.BigEndian.Uint16(frame[off:])
	}
	if et != EtherTypeSlow || [6]byte(frame[0:6]) != SlowProtocolsAddr {
		return nil, ErrNotSlow
	}
	return frame[off+2:], nil
}

// putHeader writes the Ethernet header of a Slow Protocols frame from src.
func putHeader(b []byte, src [6]byte) {
	copy(b[0:6], SlowProtocolsAddr[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:14], EtherTypeSlow)
}

// EncodeLACPDUFrame writes a complete LACPDU frame (FrameLen bytes: to
// SlowProtocolsAddr from src, EtherType 0x8809, then p) into b and returns
// FrameLen. It does not allocate; ErrShortBuffer when len(b) < FrameLen.
func EncodeLACPDUFrame(b []byte, src [6]byte, p *LACPDU) (int, error) {
	if len(b) < FrameLen {
		return 0, ErrShortBuffer
	}
	putHeader(b, src)
	if _, err := p.MarshalTo(b[HeaderLen:]); err != nil {
		return 0, err
	}
	return FrameLen, nil
}

// EncodeMarkerFrame writes a complete Marker PDU frame (FrameLen bytes)
// into b and returns FrameLen. It does not allocate; ErrShortBuffer when
// len(b) < FrameLen.
func EncodeMarkerFrame(b []byte, src [6]byte, m *Marker) (int, error) {
	if len(b) < FrameLen {
		return 0, ErrShortBuffer
	}
	putHeader(b, src)
	if _, err := m.MarshalTo(b[HeaderLen:]); err != nil {
		return 0, err
	}
	return FrameLen, nil
}
